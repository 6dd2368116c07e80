"""pyg_sgg: scene graph generation as a PyTorch Geometric extension."""
from .lazy_exports import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {"Predictor": ".predictor"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
