"""The SGG task losses (SGB): relation cross-entropy, object cross-entropy, and VCTree's
tree-score loss."""
from typing import Dict

import torch
import torch.nn.functional as F
from torch import Tensor

from ..nn.context.base import PairScores

__all__ = ["sgg_task_loss", "tree_score_loss"]


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
    * ``loss_mask_segmentation``: the refinement head's mask loss on the batch's COCO images
      (BCE, or Polar IoU for the polar head), when the model has the head and the batch
      carries them; ``loss_mask_discriminative``: its per-pixel embeddings' discriminative
      loss, when it has them.
    * ``loss_aux_vis`` / ``loss_aux_ctx`` / ``loss_aux_frq``: the causal predictor's branches
      alone against ``edge_label`` (SGB's ``auxiliary_*``), when the model produced them.
    """
    if "edge_label" not in batch:
        raise ValueError("sgg_task_loss: batch lacks field 'edge_label' "
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
    for key in ("loss_mask_segmentation", "loss_mask_discriminative"):  # the refinement head
        if key in outputs.extras:  # on COCO images
            losses[key] = outputs.extras[key]
    for name, logits in outputs.extras.get("aux_rel_logits", {}).items():
        losses[f"loss_aux_{name}"] = _ce(logits, batch.edge_label.long())
    return losses


def tree_score_loss(scores: PairScores, rel_index: Tensor) -> Tensor:
    r"""VCTree's supervised tree-score loss as SGB computes it (``binary_loss``): per image,
    the binary cross-entropy of the pair logits of all :math:`n \times n` ordered pairs
    (the diagonal included) against "related", 1 where ``rel_index`` links the two nodes in
    either direction; averaged over the pairs of each image, then over the images.

    Args:
        scores (PairScores): ``VCTreeContext``'s output ``pair_scores``.
        rel_index (Tensor): ``[2, M]`` related node pairs in the numbering of that forward
            (e.g. the positive candidate pairs of a prepared batch).

    Returns:
        Tensor: scalar loss (a graph-connected 0 when the batch has no object).
    """
    logits, mask, batch, ptr = scores
    rel_index = rel_index.long().view(2, -1)
    valid = mask[:, :, None] & mask[:, None, :]
    if not bool(valid.any()):
        return logits.sum() * 0.0
    target = torch.zeros_like(logits)
    if rel_index.numel() > 0:
        if int(rel_index.min()) < 0 or int(rel_index.max()) >= batch.numel():
            raise ValueError(f"tree_score_loss: 'rel_index' out of range for "
                             f"{batch.numel()} nodes")
        b = batch[rel_index[0]]
        if bool((batch[rel_index[1]] != b).any()):
            raise ValueError("tree_score_loss: 'rel_index' links nodes of different graphs")
        i, j = rel_index[0] - ptr[b], rel_index[1] - ptr[b]
        target[b, i, j] = 1.0
        target[b, j, i] = 1.0
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none") * valid
    pairs = valid.sum(dim=(1, 2))
    per_image = loss.sum(dim=(1, 2))[pairs > 0] / pairs[pairs > 0]
    return per_image.mean()
