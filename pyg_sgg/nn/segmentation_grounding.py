"""Segmentation-grounded visual features (Khandelwal et al., ICCV'21; METHODS.md §2.3–2.5):
the node and pair features of a scene graph model, grounded in the detector's masks.

* the detector's COCO-vocabulary mask logits of each node box → every VG class's logits
  (:class:`MaskTransfer`) → ``σ`` → ``M [N, C, 28, 28]``;
* **object grounding**: :class:`MaskGroundedBoxExtractor` on the node boxes with ``M``;
* **relation grounding**: :class:`GaussianMaskAttention` of the pair's two masks →
  ``U [E, C, 28, 28]``, and a second :class:`MaskGroundedBoxExtractor` on the union box with
  ``U`` (the masks stay in their own boxes' frames, as in the authors' code);
  ``relation=False`` leaves it out (object grounding alone, the paper's ablation rung: the
  model's pairs then take a plain union extractor's features).

``obj_dist`` is the class distribution the kernels read (one-hot GT labels in PredCls, the
detector's class softmax in SGCls / SGDet, as the authors' ``pred_scores``).
"""
from typing import List, Sequence, Tuple

import torch
from torch import Tensor

from .gaussian_mask_attention import GaussianMaskAttention
from .mask_grounded_box_extractor import MaskGroundedBoxExtractor
from .mask_transfer import MaskTransfer

__all__ = ["SegmentationGrounding", "union_boxes"]


def union_boxes(boxes: Tensor, edge_index: Tensor) -> Tensor:
    """``[E, 4]`` the smallest boxes holding both boxes of each pair."""
    a, b = boxes[edge_index[0]], boxes[edge_index[1]]
    return torch.cat([torch.minimum(a[:, :2], b[:, :2]), torch.maximum(a[:, 2:], b[:, 2:])], 1)


class SegmentationGrounding(torch.nn.Module):
    """``(x [N, D], edge_attr [E, D])`` from FPN maps, boxes and mask logits.

    Args:
        transfer (Tensor): ``[C, K]`` mask transfer map (VG ← COCO).
        in_channels (int): FPN channels.
        scales (Sequence[float]): ``1 / stride`` of each FPN map, finest first.
        representation_size (int): :math:`D`.
        num_classes (int): ``C + 1`` (the width of ``obj_dist``).
        attention (str): ``"gaussian"`` (the paper), ``"avg"``, ``"union"``.
        pool_to (int): see :class:`MaskGroundedBoxExtractor` (28: the authors').
        sampling_ratio (int): RoIAlign samples per bin side. (default: ``2``)
        relation (bool): build the relation grounding. (default: :obj:`True`)
    """

    def __init__(self, transfer: Tensor, in_channels: int, scales: Sequence[float],
                 representation_size: int, num_classes: int, attention: str = "gaussian",
                 pool_to: int = 28, sampling_ratio: int = 2, relation: bool = True):
        super().__init__()
        C = transfer.size(0)
        self.transfer = MaskTransfer(transfer)
        self.box = MaskGroundedBoxExtractor(in_channels, C, scales, representation_size,
                                            28, pool_to, sampling_ratio)
        self.union = self.attention = None
        if relation:
            self.union = MaskGroundedBoxExtractor(in_channels, C, scales, representation_size,
                                                  28, pool_to, sampling_ratio)
            self.attention = GaussianMaskAttention(num_classes, 7, attention)
        self.relation = bool(relation)
        self.out_channels = int(representation_size)

    def reset_parameters(self) -> None:
        for m in (self.box, self.union, self.attention):
            if m is not None:
                m.reset_parameters()

    def coco_class_distribution(self, labels: Tensor) -> Tensor:
        """``[N, C + 1]`` VG-class distribution of COCO objects with labels ``1..K`` (the
        context encoders read VG class distributions): each COCO class spreads over the VG
        classes whose transfer row draws on it (its column of the map, normalised; uniform
        over the VG classes when none does). A COCO batch's stand-in for the authors'
        separate COCO embedding table (METHODS.md §2.6)."""
        t = self.transfer.transfer.t()  # [K, C]
        col = t / t.sum(1, keepdim=True).clamp(min=1e-12)
        col = torch.where(t.sum(1, keepdim=True) > 0, col, torch.full_like(col, 1 / t.size(1)))
        dist = torch.cat([col.new_zeros(col.size(0), 1), col], 1)  # no background mass
        return dist[labels.long() - 1]

    def masks(self, mask_logits: Tensor) -> Tensor:
        """``[N, K, 28, 28]`` COCO logits → ``[N, C, 28, 28]`` VG class probabilities."""
        return torch.sigmoid(self.transfer(mask_logits))

    def class_masks(self, mask_logits: Tensor, labels: Tensor) -> Tensor:
        """``[N, 28, 28]`` probabilities of each object's own VG class ``labels [N]`` (1..C)
        from its COCO logits ``[N, K, 28, 28]`` (one transfer row per object)."""
        N, K, H, W = mask_logits.shape
        rows = self.transfer.transfer.to(mask_logits.dtype)[labels.long() - 1]  # [N, K]
        logits = torch.bmm(rows.unsqueeze(1), mask_logits.reshape(N, K, H * W))
        return torch.sigmoid(logits.view(N, H, W))

    def forward(self, maps: List[Tensor], boxes: Tensor, batch: Tensor, edge_index: Tensor,
                mask_logits: Tensor, obj_dist: Tensor) -> Tuple[Tensor, Tensor]:
        """``(x [N, D], edge_attr [E, D])``; ``edge_attr`` is :obj:`None` without the
        relation grounding."""
        masks = self.masks(mask_logits.to(boxes.dtype))
        x = self.box(maps, boxes, batch, masks)
        if not self.relation:
            return x, None
        if edge_index.size(1) == 0:
            return x, boxes.new_zeros(0, self.out_channels)
        pair_masks = self.attention(masks, obj_dist, edge_index)
        edge_attr = self.union(maps, union_boxes(boxes, edge_index), batch[edge_index[0]],
                               pair_masks)
        return x, edge_attr

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(classes={self.transfer.transfer.size(0)}, "
                f"coco_classes={self.transfer.transfer.size(1)}, out={self.out_channels}, "
                f"attention={self.attention.mode if self.relation else None!r}, "
                f"pool_to={self.box.pool_to})")
