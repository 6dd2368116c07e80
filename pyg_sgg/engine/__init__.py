"""Training loop, checkpoints, distributed launch and the end-to-end pipeline; each name is
imported when first used (``python evaluate.py --predictions`` then never imports torch)."""
from ..lazy_exports import lazy_exports

_EXPORTS = {"Checkpointer": ".checkpoint", "atomic_save": ".checkpoint",
            "default_argument_parser": ".defaults", "setup_cfg": ".defaults",
            "launch": ".distributed", "Trainer": ".trainer", "seed_all": ".trainer",
            "inference_on_dataset": ".inference"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
