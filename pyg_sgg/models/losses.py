"""The plain SGG task loss (SGB): relation cross-entropy + object cross-entropy."""
from typing import Dict

import torch
from torch import Tensor


def _ce(logits: Tensor, target: Tensor) -> Tensor:
    if target.numel() == 0:  # empty batch: a zero that still has a graph
        return logits.sum() * 0.0
    return torch.nn.functional.cross_entropy(logits.float(), target.long())  # fp32 under AMP


def sgg_task_loss(batch, outputs) -> Dict[str, Tensor]:
    """``{"loss_rel", "loss_obj"}`` for a batch scored by a scene graph model.

    * ``loss_rel``: cross-entropy of ``outputs.rel_logits [E, P + 1]`` against
      ``batch.edge_label [E]`` (0 = background pair).
    * ``loss_obj``: cross-entropy of ``outputs.obj_logits`` against
      ``outputs.extras["obj_target"]`` (GT labels in SGCls, IoU-matched labels in SGDet);
      0 when the model sets no target (PredCls).
    * ``loss_tree``: VCTree's tree-score BCE, when the encoder produced one.
    """
    if "edge_label" not in batch:
        raise ValueError("pyg_sgg/models/losses.py: batch lacks field 'edge_label' "
                         "(call SceneGraphModel.prepare_batch first)")
    loss_rel = _ce(outputs.rel_logits, batch.edge_label.long())
    target = outputs.extras.get("obj_target")
    if target is None:
        loss_obj = outputs.rel_logits.new_zeros(())
    else:
        loss_obj = _ce(outputs.obj_logits, target.long())
    losses = {"loss_rel": loss_rel, "loss_obj": loss_obj}
    if "loss_tree" in outputs.extras:  # VCTree's auxiliary tree-score loss
        losses["loss_tree"] = outputs.extras["loss_tree"]
    return losses
