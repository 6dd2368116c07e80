"""``disc``: the task loss plus the discriminative loss (De Brabandere et al.;
:mod:`pyg_sgg.losses.discriminative`) on the object node states grouped by class."""
from typing import Dict

from torch import Tensor

from ..losses.discriminative import discriminative_loss
from ..models.losses import sgg_task_loss
from .base import METHOD_REGISTRY, Method
from .plugin_loss_config import add_plugin_loss_config

__all__ = ["Discriminative"]


@METHOD_REGISTRY.register("disc")
class Discriminative(Method):
    """``loss_rel`` / ``loss_obj`` as :class:`~pyg_sgg.methods.CrossEntropy` plus
    ``loss_disc = weight * (alpha L_var + beta L_dist + gamma L_reg)`` over the context
    encoder's node states (``outputs.extras["node_states"]``), clustered by object class (the
    model's object targets; GT labels in PredCls; unmatched SGDet nodes are left out). A
    feature regulariser meant for SGCls / SGDet; without a context encoder it adds 0. An
    auxiliary method (composes like ``gcl``).

    Args:
        weight (float): of the whole term. (default: ``1.0``)
        per_image (bool): clusters per image instead of per class over the batch.
            (default: ``False``)
        **kwargs: ``delta_v``, ``delta_d``, ``alpha``, ``beta``, ``gamma`` of
            :func:`~pyg_sgg.losses.discriminative_loss`.
    """

    name = "disc"
    auxiliary = True

    def __init__(self, weight: float = 1.0, per_image: bool = False, **kwargs):
        self.weight, self.per_image, self.kwargs = float(weight), bool(per_image), kwargs

    @classmethod
    def from_config(cls, cfg, statistics=None) -> "Discriminative":
        if "DISC" not in cfg:
            add_plugin_loss_config(cfg)
        c = cfg.DISC
        return cls(c.WEIGHT, c.PER_IMAGE, delta_v=c.DELTA_V, delta_d=c.DELTA_D,
                   alpha=c.ALPHA, beta=c.BETA, gamma=c.GAMMA)

    def loss(self, model, batch, outputs) -> Dict[str, Tensor]:
        losses = sgg_task_loss(batch, outputs)
        states = outputs.extras.get("node_states")
        if states is None or states.size(-1) == 0:
            losses["loss_disc"] = outputs.rel_logits.sum() * 0.0
            return losses
        label = outputs.extras.get("obj_target", batch.labels).long()
        cluster = label.where(label > 0, -1)
        terms = discriminative_loss(states, cluster, batch.batch if self.per_image else None,
                                    **self.kwargs)
        losses["loss_disc"] = self.weight * terms["loss"]
        return losses

    def __repr__(self) -> str:
        return f"Discriminative(weight={self.weight}, per_image={self.per_image})"
