"""The two graphs of EBM's energy loss (METHODS.md §1.2-1.4), batched over images: the
positive graph (ground-truth objects and annotated pairs, one-hot states) and the negative
graph (the scored candidate pairs with min-max-normalised logits, where SGLD starts)."""
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.scene_graph import cross_pairs
from ..models.sgdet_targets import gt_fields, pairwise_iou
from ..nn.box_geometry import box_geometry
from .sgld import min_max_normalize

__all__ = ["EnergyGraph", "unique_pairs", "matched_features", "positive_graph",
           "negative_graph"]

Noise = Callable[[Tensor], Tensor]


class EnergyGraph(NamedTuple):
    """One side (positive or negative) of the energy loss, batched over images."""
    x_img: Tensor  # [N, D] image-graph node features
    x_sg: Tensor  # [N, C+1] scene-graph node states
    pos: Tensor  # [N, 9] box geometry
    edge_index: Tensor  # [2, E] shared by the image graph and the scene graph
    edge_attr: Tensor  # [E, P+1] scene-graph edge states
    batch: Tensor  # [N]
    num_graphs: int


def unique_pairs(edge_index: Tensor, label: Tensor, num_nodes: int):
    """Keep the first occurrence of each (subject, object) pair (one predicate per pair)."""
    if edge_index.size(1) == 0:
        return edge_index, label
    key = edge_index[0] * max(num_nodes, 1) + edge_index[1]
    uniq, inverse = torch.unique(key, return_inverse=True)
    pos = torch.arange(key.numel(), device=key.device)
    first = torch.full((uniq.numel(),), key.numel(), device=key.device, dtype=torch.long)
    first = first.scatter_reduce(0, inverse, pos, reduce="amin")
    return edge_index[:, first], label[first]


def matched_features(batch, feats: Tensor, gt_boxes: Tensor, num_gt: Tensor) -> Tensor:
    """Features of the highest-IoU detection of the same image for each GT box ``[G, D]``
    (zeros for an image without detections)."""
    counts = (batch.ptr[1:] - batch.ptr[:-1]).to(feats.device)
    pairs = cross_pairs(num_gt, counts)  # (gt, det) within images
    out = feats.new_zeros(gt_boxes.size(0), feats.size(1))
    if pairs.size(1) == 0:
        return out
    iou = pairwise_iou(gt_boxes[pairs[0]], batch.boxes[pairs[1]].float())
    best = iou.new_full((gt_boxes.size(0),), -1.0)
    best = best.scatter_reduce(0, pairs[0], iou, reduce="amax")
    hit = iou == best[pairs[0]]
    out[pairs[0][hit]] = feats[pairs[1][hit]]  # ties: any of the best detections
    return out


def positive_graph(batch, outputs, task: str, noise: Noise,
                   image_noise: Noise) -> EnergyGraph:
    """Ground-truth objects and annotated pairs (one predicate per pair), one-hot states plus
    ``noise``; image-graph nodes: ``outputs.node_features`` through ``image_noise`` (SGDet:
    the trainable extractor's features of the GT boxes, ``outputs.extras
    ["gt_node_features"]``, as the authors re-extract them; else ``batch.gt_x`` when
    present; else the best-IoU detection's features)."""
    feats = outputs.node_features
    num_cls, num_pred = outputs.obj_logits.size(1), outputs.rel_logits.size(1)
    B = int(batch.num_graphs)
    if task == "sgdet":
        gt_boxes, gt_labels, num_gt, triplets, tri_graph = gt_fields(batch)
        device = feats.device
        num_gt = num_gt.to(device)
        gt_batch = torch.repeat_interleave(torch.arange(B, device=device), num_gt)
        gt_ptr = torch.cat([num_gt.new_zeros(1), num_gt.cumsum(0)])
        shift = gt_ptr[tri_graph.to(device)]
        edge_index = torch.stack([triplets[:, 0] + shift, triplets[:, 1] + shift])
        rel_label = triplets[:, 2]
        boxes, labels, node_batch = gt_boxes.to(device), gt_labels.to(device), gt_batch
        gt_feats = (outputs.extras or {}).get("gt_node_features")
        if gt_feats is not None:  # trainable extractors: re-extracted for the GT boxes
            x_img = image_noise(gt_feats)
        elif "gt_x" in batch:
            x_img = noise(batch.gt_x)
        else:
            x_img = noise(matched_features(batch, feats, boxes, num_gt))
    else:
        for key in ("gt_rel_index", "gt_rel_label"):
            if key not in batch:
                raise ValueError(f"EBM: batch lacks field {key!r}")
        edge_index, rel_label = batch.gt_rel_index, batch.gt_rel_label
        boxes, labels, node_batch = batch.boxes, batch.labels, batch.batch
        x_img = image_noise(feats)
    N = labels.numel()
    edge_index, rel_label = unique_pairs(edge_index.long(), rel_label.long(), N)
    size = batch.image_size.reshape(-1, 2)[node_batch]
    return EnergyGraph(
        x_img=x_img,
        x_sg=noise(F.one_hot(labels.long(), num_cls).to(feats.dtype)),
        pos=box_geometry(boxes, size).to(feats.dtype),
        edge_index=edge_index,
        edge_attr=noise(F.one_hot(rel_label, num_pred).to(feats.dtype)),
        batch=node_batch, num_graphs=B)


def negative_graph(batch, outputs, task: str, noise: Noise, image_noise: Noise,
                   norm_eps: float, attach: bool = True) -> EnergyGraph:
    """The scored candidate pairs with min-max-normalised ``rel_logits`` (and ``obj_logits``
    outside PredCls, where the GT one-hot plus ``noise`` is used); ``attach=False``
    detaches everything from the base model."""
    rel_logits, obj_logits = outputs.rel_logits, outputs.obj_logits
    if task == "predcls":
        x_sg = noise(F.one_hot(batch.labels.long(), obj_logits.size(1)).to(rel_logits.dtype))
    else:
        x_sg = min_max_normalize(obj_logits, norm_eps)
    size = batch.image_size.reshape(-1, 2)[batch.batch]
    g = EnergyGraph(x_img=image_noise(outputs.node_features), x_sg=x_sg,
                    pos=box_geometry(batch.boxes, size).to(rel_logits.dtype),
                    edge_index=batch.edge_index,
                    edge_attr=min_max_normalize(rel_logits, norm_eps),
                    batch=batch.batch, num_graphs=int(batch.num_graphs))
    if not attach:
        g = g._replace(x_img=g.x_img.detach(), x_sg=g.x_sg.detach(),
                       edge_attr=g.edge_attr.detach())
    return g
