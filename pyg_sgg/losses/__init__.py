"""Loss functions as graph-batch operators (tensors + index vectors, scatter ops, no loop over
images, nodes or pairs), usable outside pyg_sgg; the methods in :mod:`pyg_sgg.methods` wire
them into training."""
from ..lazy_exports import lazy_exports

_EXPORTS = {"graphical_contrastive_losses": ".graphical_contrastive",
            "relatedness": ".graphical_contrastive", "baikal_loss": ".baikal",
            "baikal_row_losses": ".baikal", "discriminative_loss": ".discriminative",
            "cmat_advantages": ".cmat", "triplet_candidates": ".cmat",
            "triplet_recall": ".cmat"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
