"""SGB's per-class NMS on predicted object labels (SGDet): greedy over (box, class) scores,
batched over images."""
import torch
from torch import Tensor
from torch_geometric.utils import to_dense_batch

from .box_geometry import box_iou

__all__ = ["nms_labels"]


def nms_labels(probs: Tensor, boxes: Tensor, batch: Tensor, iou_threshold: float = 0.5,
               plus_one: bool = False) -> Tensor:
    r"""Object labels by SGB's label NMS (``obj_prediction_nms``, Motifs' decoder NMS).

    Per image, ``n`` times: take the highest remaining foreground score
    :math:`p_{ic}`; box :math:`i` gets class :math:`c` unless it already has a label;
    class :math:`c` is zeroed in every box overlapping :math:`i` with IoU
    :math:`\ge` ``iou_threshold``; box :math:`i` is removed. All images run in lockstep
    (one step per object of the largest image).

    The boxes are class-agnostic (SGB overlaps each class's regressed box; a pyg_sgg
    detection has one box).

    Args:
        probs (Tensor): ``[N, C + 1]`` class probabilities (column 0 background, ignored).
        boxes (Tensor): ``[N, 4]`` ``xyxy``.
        batch (Tensor): ``[N]`` image of each box (sorted).
        iou_threshold (float): overlap that suppresses a class. (default: ``0.5``)
        plus_one (bool): SGB's pixel IoU (``w = x2 - x1 + 1``). (default: :obj:`False`)

    Returns:
        Tensor: ``[N]`` long labels in ``1..C``.
    """
    N, C1 = probs.shape
    if N == 0:
        return torch.zeros(0, dtype=torch.long, device=probs.device)
    scores, mask = to_dense_batch(probs.detach().float(), batch, fill_value=-1.0)
    scores[..., 0] = torch.where(mask, 0.0, -1.0)
    dense_boxes, _ = to_dense_batch(boxes.float(), batch)
    B, T = mask.shape
    overlap = box_iou(dense_boxes[:, :, None], dense_boxes[:, None], plus_one) >= iou_threshold
    overlap &= mask[:, :, None] & mask[:, None, :]
    counts = mask.sum(1)
    labels = torch.zeros(B, T, dtype=torch.long, device=probs.device)
    rows = torch.arange(B, device=probs.device)
    for step in range(T):
        active = counts > step  # [B]
        best = scores.view(B, -1).argmax(dim=1)
        box, cls = best // C1, best % C1
        free = active & (labels[rows, box] == 0)
        labels[rows[free], box[free]] = cls[free]
        hit = overlap[rows, box] & active[:, None]  # [B, T]
        col = cls.view(B, 1, 1).expand(B, T, 1)
        cur = scores.gather(2, col)
        scores.scatter_(2, col, torch.where(hit[..., None], torch.zeros_like(cur), cur))
        scores[rows[active], box[active]] = -1.0
    return labels[mask]
