"""``gcl``: the task loss plus RelDN's graphical contrastive losses (Zhang et al., CVPR'19;
:mod:`pyg_sgg.losses.graphical_contrastive`)."""
from typing import Dict, Sequence

from torch import Tensor

from ..losses.graphical_contrastive import graphical_contrastive_losses
from ..models.losses import sgg_task_loss
from .base import METHOD_REGISTRY, Method
from .plugin_loss_config import add_plugin_loss_config

__all__ = ["GraphicalContrastive"]

_KINDS = ("agnostic", "entity", "predicate")


@METHOD_REGISTRY.register("gcl")
class GraphicalContrastive(Method):
    """``loss_rel`` / ``loss_obj`` as :class:`~pyg_sgg.methods.CrossEntropy` plus
    ``loss_gcl_{agnostic, entity, predicate}``, each the weighted sum of its subject- and
    object-side terms over the batch's scored pairs (``batch.edge_index``, ``edge_label``).

    Entity classes are the model's object targets (GT labels; IoU-matched GT labels in
    SGDet) or, in PredCls, the GT labels. An auxiliary method: composed with another
    (``gcl+hml``, ``gcl+ebm``), the other's task loss is used and these terms are added.

    Args:
        weights (sequence of float): of the agnostic, entity- and predicate-class-aware
            losses (RelDN's VG configs: 1.0, 0.5, 0.1).
        margin (float): ranking margin. (default: ``0.2``)
        fallback (bool): class-aware groups without a matching negative use the agnostic
            negative. (default: ``True``)
    """

    name = "gcl"
    auxiliary = True

    def __init__(self, weights: Sequence[float] = (1.0, 0.5, 0.1), margin: float = 0.2,
                 fallback: bool = True):
        if len(weights) != 3:
            raise ValueError(f"GraphicalContrastive: 3 weights expected, got {list(weights)}")
        self.weights = tuple(float(w) for w in weights)
        self.margin, self.fallback = float(margin), bool(fallback)

    @classmethod
    def from_config(cls, cfg, statistics=None) -> "GraphicalContrastive":
        if "GCL" not in cfg:
            add_plugin_loss_config(cfg)
        return cls(cfg.GCL.WEIGHTS, cfg.GCL.MARGIN, cfg.GCL.FALLBACK)

    def loss(self, model, batch, outputs) -> Dict[str, Tensor]:
        losses = sgg_task_loss(batch, outputs)
        node_label = outputs.extras.get("obj_target", batch.labels)
        terms = graphical_contrastive_losses(
            outputs.rel_logits, batch.edge_index, batch.edge_label, node_label,
            num_nodes=batch.num_nodes, margin=self.margin, fallback=self.fallback)
        for kind, w in zip(_KINDS, self.weights):
            losses[f"loss_gcl_{kind}"] = w * (terms[f"{kind}_subject"] + terms[f"{kind}_object"])
        return losses

    def __repr__(self) -> str:
        return (f"GraphicalContrastive(weights={self.weights}, margin={self.margin}, "
                f"fallback={self.fallback})")
