"""SGDet training targets: detections matched to ground truth by IoU, as SGB.

In SGDet the nodes of a batch are detections (``boxes``, ``labels``, ``det_scores``) and the
ground truth is kept as ``gt_boxes [G, 4]``, ``gt_labels [G]``, ``num_gt [1]`` and
``gt_triplets [M, 3]`` (local GT indices) per image.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from ..data.scene_graph import box_overlap_mask, cross_pairs, pair_labels
from ..nn.box_geometry import box_iou


def pairwise_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of row-aligned boxes ``[K, 4]`` and ``[K, 4]`` (xyxy, SGB's ``+1`` convention)."""
    return box_iou(a, b, plus_one=True)


def gt_fields(batch) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    for key in ("gt_boxes", "gt_labels", "num_gt", "gt_triplets"):
        if key not in batch:
            raise ValueError(f"sgdet_targets: SGDet batch lacks field "
                             f"{key!r}")
    slices = getattr(batch, "_slice_dict", None)
    if slices is None or "gt_triplets" not in slices:
        raise ValueError("sgdet_targets: field 'gt_triplets' needs a "
                         "Batch built by Batch.from_data_list (its per-image slices)")
    # item access: SceneGraph also has a gt_triplets *property* (from gt_rel_index)
    triplets = batch["gt_triplets"].long().reshape(-1, 3)
    tri_ptr = slices["gt_triplets"].to(triplets.device)
    tri_graph = torch.repeat_interleave(torch.arange(tri_ptr.numel() - 1,
                                                     device=triplets.device),
                                        tri_ptr[1:] - tri_ptr[:-1])
    num_gt = batch["num_gt"].long().reshape(-1)
    return (batch["gt_boxes"].float().reshape(-1, 4), batch["gt_labels"].long().reshape(-1),
            num_gt, triplets, tri_graph)


def sgdet_targets(batch, iou_threshold: float = 0.5,
                  generator: Optional[torch.Generator] = None):
    """Set ``batch.node_target [N]`` and ``batch.edge_label [E]`` for SGDet training.

    * ``node_target``: label of the GT box with the highest IoU if it is at least
      ``iou_threshold``, else 0 (background).
    * ``edge_label`` of candidate ``(i, j)``: a predicate ``p`` of a GT triplet
      ``(s, o, p)`` with detection ``i`` matching ``s`` and ``j`` matching ``o``, where
      matching is IoU ``>= iou_threshold`` and the same label (SGB); one is drawn with
      ``generator`` when several apply; 0 otherwise.

    Vectorised over images. Returns the same ``batch``, modified in place.
    """
    gt_boxes, gt_labels, num_gt, triplets, tri_graph = gt_fields(batch)
    counts = batch.ptr[1:] - batch.ptr[:-1]
    device = batch.boxes.device
    num_nodes = batch.boxes.size(0)

    pairs = cross_pairs(counts, num_gt.to(counts.device))  # (det, gt) within images
    det, gt = pairs[0], pairs[1]
    iou = pairwise_iou(batch.boxes[det], gt_boxes[gt])
    best = torch.full((num_nodes,), -1.0, device=device)
    best = best.scatter_reduce(0, det, iou, reduce="amax", include_self=True)
    is_best = (iou == best[det]) & (iou >= iou_threshold)
    node_target = torch.zeros(num_nodes, dtype=torch.long, device=device)
    # ties: any of the best GT boxes (deterministic: the last written wins)
    node_target[det[is_best]] = gt_labels[gt[is_best]]
    batch.node_target = node_target

    match = (iou >= iou_threshold) & (batch.labels[det] == gt_labels[gt])
    det_m, gt_m = det[match], gt[match]
    order = torch.argsort(gt_m, stable=True)
    det_m, gt_m = det_m[order], gt_m[order]
    num_g = gt_boxes.size(0)
    cnt = torch.zeros(num_g, dtype=torch.long, device=device)
    cnt.scatter_add_(0, gt_m, torch.ones_like(gt_m))
    start = torch.cat([cnt.new_zeros(1), cnt.cumsum(0)[:-1]])

    gt_ptr = torch.cat([num_gt.new_zeros(1), num_gt.cumsum(0)]).to(device)
    s_g = triplets[:, 0] + gt_ptr[tri_graph]
    o_g = triplets[:, 1] + gt_ptr[tri_graph]
    n = cnt[s_g] * cnt[o_g] if triplets.numel() else cnt.new_zeros(0)
    total = int(n.sum())
    if total > 0:
        tri = torch.repeat_interleave(torch.arange(n.numel(), device=device), n)
        local = torch.arange(total, device=device) - (n.cumsum(0) - n)[tri]
        co = cnt[o_g][tri]
        det_s = det_m[start[s_g][tri] + local // co]
        det_o = det_m[start[o_g][tri] + local % co]
        keep = det_s != det_o
        rel_index = torch.stack([det_s[keep], det_o[keep]])
        rel_label = triplets[:, 2][tri][keep]
    else:
        rel_index = torch.zeros(2, 0, dtype=torch.long, device=device)
        rel_label = torch.zeros(0, dtype=torch.long, device=device)
    batch.edge_label = pair_labels(batch.edge_index, rel_index, rel_label, num_nodes,
                                   generator)
    return batch


def overlap_mask(batch) -> Tensor:
    """``[E]`` bool: candidate pairs whose boxes intersect (SGB's SGDet test-time rule)."""
    return box_overlap_mask(batch.boxes, batch.edge_index)
