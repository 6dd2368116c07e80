"""Box geometry features as SGB / EBM's ``encode_box_info``, the one box-overlap helper and
union boxes of pairs."""
from typing import Tuple

import torch
from torch import Tensor

__all__ = ["BOX_GEOMETRY_DIM", "box_geometry", "box_intersection", "box_iou", "pair_union_boxes"]

#: Width of :func:`box_geometry`'s per-box features.
BOX_GEOMETRY_DIM = 9


def box_intersection(a: Tensor, b: Tensor, plus_one: bool = False
                     ) -> Tuple[Tensor, Tensor, Tensor]:
    """``(intersection, area_a, area_b)`` of xyxy boxes ``a [..., 4]`` and ``b [..., 4]``,
    broadcast against each other (row-aligned pairs, or ``a[:, None]`` vs ``b[None]`` for
    all pairs). ``plus_one``: SGB's pixel convention ``w = x2 - x1 + 1``."""
    one = 1.0 if plus_one else 0.0
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0]) + one)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1]) + one)
    area_a = (a[..., 2] - a[..., 0] + one).clamp(min=0) * (a[..., 3] - a[..., 1] + one).clamp(min=0)
    area_b = (b[..., 2] - b[..., 0] + one).clamp(min=0) * (b[..., 3] - b[..., 1] + one).clamp(min=0)
    return iw.clamp(min=0) * ih.clamp(min=0), area_a, area_b


def box_iou(a: Tensor, b: Tensor, plus_one: bool = False, eps: float = 1e-6) -> Tensor:
    """IoU of broadcast xyxy boxes (see :func:`box_intersection`)."""
    inter, area_a, area_b = box_intersection(a, b, plus_one)
    return inter / (area_a + area_b - inter).clamp(min=eps)


def box_geometry(boxes: Tensor, image_size: Tensor) -> Tensor:
    """Nine normalised geometry features per box.

    ``[w/W, h/H, cx/W, cy/H, x1/W, y1/H, x2/W, y2/H, w*h/(W*H)]`` with ``w = x2 - x1 + 1``
    and ``h = y2 - y1 + 1`` (SGB's "+1" convention).

    Args:
        boxes (Tensor): ``[N, 4]`` xyxy pixels.
        image_size (Tensor): ``[N, 2]`` ``(height, width)`` of each box's image.

    Returns:
        Tensor: ``[N, 9]`` float32.
    """
    boxes = boxes.float()
    size = image_size.to(boxes.dtype)
    H, W = size[:, 0].clamp(min=1), size[:, 1].clamp(min=1)
    x1, y1, x2, y2 = boxes.unbind(-1)
    w, h = x2 - x1 + 1.0, y2 - y1 + 1.0
    cx, cy = x1 + 0.5 * w, y1 + 0.5 * h
    return torch.stack([w / W, h / H, cx / W, cy / H, x1 / W, y1 / H, x2 / W, y2 / H,
                        w * h / (W * H)], dim=-1)


def pair_union_boxes(boxes: Tensor, pair_index: Tensor) -> Tensor:
    """``[E, 4]`` union box of each pair ``pair_index [2, E]`` of ``boxes [N, 4]``."""
    a, b = boxes[pair_index[0]], boxes[pair_index[1]]
    return torch.cat([torch.minimum(a[:, :2], b[:, :2]), torch.maximum(a[:, 2:], b[:, 2:])], 1)
