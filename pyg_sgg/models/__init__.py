"""Scene graph models assembled from pyg_sgg.nn layers."""
from .output import SGGOutput

__all__ = ["SGGOutput"]
