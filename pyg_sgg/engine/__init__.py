"""Training loop, checkpoints, distributed launch and the end-to-end pipeline."""
from .checkpoint import Checkpointer, atomic_save  # noqa: F401
from .defaults import default_argument_parser, setup_cfg  # noqa: F401
from .distributed import launch  # noqa: F401
from .inference import inference_on_dataset  # noqa: F401
from .trainer import Trainer, seed_all  # noqa: F401

__all__ = ["Checkpointer", "atomic_save", "default_argument_parser", "setup_cfg", "launch",
           "Trainer", "inference_on_dataset", "seed_all"]
