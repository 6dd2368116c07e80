"""Hypothesis draws the same examples on every run (derandomized: the suite's outcome does not
depend on the draw), unless ``PYG_SGG_FUZZ_EXAMPLES`` asks for a fuzzing run, which draws
fresh ones."""
import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True)
settings.register_profile("fuzz", derandomize=False)
settings.load_profile("fuzz" if os.environ.get("PYG_SGG_FUZZ_EXAMPLES") else "repeatable")
