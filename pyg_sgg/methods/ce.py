"""The plain cross-entropy method: the SGG task loss, no extra machinery (the baseline)."""
from typing import Dict

import torch
from torch import Tensor

from .base import METHOD_REGISTRY, Method

__all__ = ["CrossEntropy", "task_loss"]


def _ce(logits: Tensor, target: Tensor) -> Tensor:
    if target.numel() == 0:  # no pairs / objects: a zero that keeps the graph
        return logits.sum() * 0.0
    return torch.nn.functional.cross_entropy(logits.float(), target.long())


def task_loss(batch, outputs, task: str = "predcls") -> Dict[str, Tensor]:
    """``{"loss_rel", "loss_obj"}``: relation CE of ``outputs.rel_logits [E, P+1]`` vs
    ``batch.edge_label [E]`` and object CE of ``outputs.obj_logits [N, C+1]`` (SGCls/SGDet).

    Uses :func:`pyg_sgg.models.losses.sgg_task_loss` when available; the fallback takes the
    object target from ``outputs.extras["obj_target"]``, else ``batch.labels``.
    """
    try:
        from ..models.losses import sgg_task_loss
    except ImportError:
        sgg_task_loss = None
    if sgg_task_loss is not None:
        return sgg_task_loss(batch, outputs)
    losses = {"loss_rel": _ce(outputs.rel_logits, batch.edge_label)}
    if task == "predcls":
        losses["loss_obj"] = outputs.rel_logits.new_zeros(())
    else:
        target = outputs.extras.get("obj_target", batch.labels)
        losses["loss_obj"] = _ce(outputs.obj_logits, target)
    return losses


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
    def from_config(cls, cfg) -> "CrossEntropy":
        return cls(task=cfg.SGG.TASK)

    def loss(self, model, batch, outputs) -> Dict[str, Tensor]:
        losses = task_loss(batch, outputs, self.task)
        losses["loss_rel"] = losses["loss_rel"] * self.rel_weight
        losses["loss_obj"] = losses["loss_obj"] * self.obj_weight
        return losses

    def __repr__(self) -> str:
        return f"CrossEntropy(task={self.task!r})"
