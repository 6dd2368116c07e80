"""A scored batch as the predictions interchange format (:mod:`pyg_sgg.evaluation.interchange`),
the one format every evaluator and codebase reads."""
from typing import Dict

import numpy as np
import torch
from torch import Tensor

from .output import SGGOutput

__all__ = ["to_predictions"]


def to_predictions(batch, outputs: SGGOutput, mode: str,
                   num_predicates: int) -> Dict[str, np.ndarray]:
    """The interchange dict (numpy arrays) of a prepared, scored ``batch``.

    ``rel_scores`` is the softmax of ``outputs.rel_logits`` (column 0 background); relations
    are in ``edge_index`` order within each image (not sorted by score); in SGDet the GT
    comes from ``gt_boxes`` / ``gt_labels`` / ``gt_triplets`` / ``num_gt``. A model with
    segmentation grounding adds ``pred_masks`` / ``image_sizes``
    (:mod:`pyg_sgg.evaluation.object_masks`).

    Args:
        batch (Batch): the scene graphs, with ``edge_index`` the scored pairs.
        outputs (SGGOutput): the model's outputs for ``batch``.
        mode (str): ``"predcls"``, ``"sgcls"`` or ``"sgdet"``.
        num_predicates (int): :math:`P` (foreground).
    """
    B = batch.num_graphs
    ptr = batch.ptr
    node_graph = batch.batch

    def counts_ptr(graph: Tensor) -> Tensor:
        counts = torch.bincount(graph, minlength=B)
        return torch.cat([counts.new_zeros(1), counts.cumsum(0)])

    if mode == "sgdet":
        num_gt = batch["num_gt"].long().reshape(-1)
        gt_obj_ptr = torch.cat([num_gt.new_zeros(1), num_gt.cumsum(0)])
        gt_boxes, gt_labels = batch["gt_boxes"], batch["gt_labels"]
        gt_rels = batch["gt_triplets"].long().reshape(-1, 3)
        gt_rel_ptr = batch._slice_dict["gt_triplets"]
    else:
        gt_obj_ptr, gt_boxes, gt_labels = ptr, batch.boxes, batch.labels
        rel_graph = node_graph[batch.gt_rel_index[0]]
        local = batch.gt_rel_index - ptr[rel_graph]
        gt_rels = torch.cat([local.t(), batch.gt_rel_label.view(-1, 1)], dim=1)
        gt_rel_ptr = counts_ptr(rel_graph)

    edge_graph = node_graph[batch.edge_index[0]]
    order = torch.argsort(edge_graph, stable=True)
    edge_graph = edge_graph[order]
    pair = (batch.edge_index[:, order] - ptr[edge_graph]).t()
    rel_scores = torch.softmax(outputs.rel_logits[order].float(), dim=-1)

    def np_(t):  # float() first: bf16 (autocast) has no numpy dtype
        if not torch.is_tensor(t):
            return np.asarray(t)
        t = t.detach().cpu()
        return (t.float() if t.is_floating_point() else t).numpy()

    out = {
        "num_predicates": np.asarray(num_predicates),
        "gt_obj_ptr": np_(gt_obj_ptr).astype(np.int64),
        "gt_boxes": np_(gt_boxes).astype(np.float32).reshape(-1, 4),
        "gt_labels": np_(gt_labels).astype(np.int64),
        "gt_rel_ptr": np_(gt_rel_ptr).astype(np.int64),
        "gt_rels": np_(gt_rels).astype(np.int64).reshape(-1, 3),
        "pred_obj_ptr": np_(ptr).astype(np.int64),
        "pred_boxes": np_(batch.boxes).astype(np.float32).reshape(-1, 4),
        "pred_labels": np_(outputs.obj_labels).astype(np.int64),
        "pred_scores": np_(outputs.obj_scores).astype(np.float32),
        "rel_ptr": np_(counts_ptr(edge_graph)).astype(np.int64),
        "rel_pair_idx": np_(pair).astype(np.int64).reshape(-1, 2),
        "rel_scores": np_(rel_scores).astype(np.float32),
        "image_ids": np_(batch.image_id).astype(np.int64).reshape(-1),
    }
    masks = outputs.extras.get("obj_masks")
    if masks is not None:  # a segmentation-grounded model: each object's mask of its label
        from ..evaluation.object_masks import encode_object_masks
        out["pred_masks"], out["image_sizes"] = encode_object_masks(masks, batch.boxes, ptr,
                                                                    batch.image_size)
    return out
