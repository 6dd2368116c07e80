"""The plain cross-entropy method: the SGG task loss, no extra machinery (the baseline)."""
from typing import Dict

from torch import Tensor

from ..models.losses import sgg_task_loss
from .base import METHOD_REGISTRY, Method

__all__ = ["CrossEntropy"]


@METHOD_REGISTRY.register("ce")
class CrossEntropy(Method):
    """Relation cross-entropy (+ object cross-entropy in SGCls / SGDet), as SGB's baseline.

    Args:
        task (str): ``"predcls"``, ``"sgcls"`` or ``"sgdet"``. (default: ``"predcls"``)
        rel_weight (float): weight of ``loss_rel``. (default: ``1.0``)
        obj_weight (float): weight of ``loss_obj``. (default: ``1.0``)
    """

    name = "ce"

    def __init__(self, task: str = "predcls", rel_weight: float = 1.0, obj_weight: float = 1.0):
        self.task, self.rel_weight, self.obj_weight = task, rel_weight, obj_weight

    @classmethod
    def from_config(cls, cfg, statistics=None) -> "CrossEntropy":
        return cls(task=cfg.SGG.TASK)

    def loss(self, model, batch, outputs) -> Dict[str, Tensor]:
        losses = sgg_task_loss(batch, outputs)
        losses["loss_rel"] = losses["loss_rel"] * self.rel_weight
        losses["loss_obj"] = losses["loss_obj"] * self.obj_weight
        return losses

    def __repr__(self) -> str:
        return f"CrossEntropy(task={self.task!r})"
