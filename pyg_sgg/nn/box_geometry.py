"""Box geometry features as SGB / EBM's ``encode_box_info``."""
import torch
from torch import Tensor


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
