"""``baikal``: the Baikal / BaikalCMA loss (GLO; :mod:`pyg_sgg.losses.baikal`) in place of the
relation (and object) cross-entropy."""
from typing import Dict

import torch.nn.functional as F
from torch import Tensor

from ..losses.baikal import baikal_row_losses
from ..models.losses import sgg_task_loss
from .base import METHOD_REGISTRY, Method
from .plugin_loss_config import (BAIKAL_FORMS, BAIKAL_REL_ROWS,
                                 add_plugin_loss_config)

__all__ = ["Baikal"]


@METHOD_REGISTRY.register("baikal")
class Baikal(Method):
    """The task loss with ``loss_rel`` (and ``loss_obj``) replaced by Baikal.

    Args:
        form (str): ``"baikal"`` or ``"baikal_cma"``. (default: ``"baikal"``)
        eps (float): probability floor. (default: ``1e-6``)
        rel_rows (str): ``"all"`` pairs, or ``"foreground"``: Baikal on the related pairs,
            cross-entropy on the background ones; either way the mean over all pairs.
            (default: ``"all"``)
        objects (bool): also replace the object cross-entropy (SGCls / SGDet).
            (default: ``True``)
    """

    name = "baikal"

    def __init__(self, form: str = "baikal", eps: float = 1e-6, rel_rows: str = "all",
                 objects: bool = True):
        if form not in BAIKAL_FORMS:
            raise ValueError(f"Baikal: form must be one of {BAIKAL_FORMS}, got {form!r}")
        if rel_rows not in BAIKAL_REL_ROWS:
            raise ValueError(f"Baikal: rel_rows must be one of {BAIKAL_REL_ROWS}, got "
                             f"{rel_rows!r}")
        self.form, self.eps, self.rel_rows, self.objects = form, eps, rel_rows, objects

    @classmethod
    def from_config(cls, cfg, statistics=None) -> "Baikal":
        if "BAIKAL" not in cfg:
            add_plugin_loss_config(cfg)
        c = cfg.BAIKAL
        return cls(c.FORM, c.EPS, c.REL_ROWS, c.OBJECTS)

    def _rows(self, logits: Tensor, target: Tensor, foreground_only: bool) -> Tensor:
        if target.numel() == 0:
            return logits.sum() * 0.0
        rows = baikal_row_losses(logits, target, form=self.form, eps=self.eps)
        if foreground_only:
            ce = F.cross_entropy(logits.float(), target.long(), reduction="none")
            rows = rows.where(target > 0, ce)
        return rows.mean()

    def loss(self, model, batch, outputs) -> Dict[str, Tensor]:
        losses = sgg_task_loss(batch, outputs)
        losses["loss_rel"] = self._rows(outputs.rel_logits, batch.edge_label.long(),
                                        self.rel_rows == "foreground")
        target = outputs.extras.get("obj_target")
        if self.objects and target is not None:
            losses["loss_obj"] = self._rows(outputs.obj_logits, target.long(), False)
        return losses

    def __repr__(self) -> str:
        return f"Baikal(form={self.form!r}, rel_rows={self.rel_rows!r})"
