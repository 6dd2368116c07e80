"""Per-object masks in a predictions file (:mod:`pyg_sgg.evaluation.interchange`): each
predicted object's ``R × R`` mask probabilities pasted into its box at its image's size,
binarised at 0.5 and stored as COCO compressed RLE (``pred_masks``, one ``bytes`` per object,
no pickles), with ``image_sizes [I, 2]`` ``(height, width)`` to decode them."""
from typing import Dict, Tuple

import numpy as np
import torch
from pycocotools import mask as mask_utils
from torch import Tensor
from torchvision.models.detection.roi_heads import paste_masks_in_image

from ..detection.evaluation import masks_to_rle

__all__ = ["paste_masks", "encode_object_masks", "decode_object_masks"]


@torch.no_grad()
def paste_masks(probs: Tensor, boxes: Tensor, size: Tuple[int, int]) -> np.ndarray:
    """``[n, H, W]`` uint8: each box's ``[R, R]`` probabilities (``probs [n, R, R]``) pasted
    into its box (``boxes [n, 4]`` xyxy) on an image of ``size = (H, W)``, > 0.5."""
    pasted = paste_masks_in_image(probs[:, None].float().cpu(), boxes.float().cpu(),
                                  tuple(size))[:, 0] > 0.5
    return pasted.to(torch.uint8).numpy()


@torch.no_grad()
def encode_object_masks(probs: Tensor, boxes: Tensor, ptr: Tensor,
                        image_size: Tensor) -> Tuple[np.ndarray, np.ndarray]:
    """``(pred_masks [N] bytes, image_sizes [I, 2] int64)``.

    Args:
        probs (Tensor): ``[N, R, R]`` mask probabilities in each box's frame.
        boxes (Tensor): ``[N, 4]`` xyxy in the pixels of ``image_size``.
        ptr (Tensor): ``[I + 1]`` objects of each image.
        image_size (Tensor): ``[I, 2]`` ``(height, width)``.
    """
    sizes = image_size.detach().cpu().long().reshape(-1, 2)
    counts = []
    ptr = ptr.tolist()
    for i, (h, w) in enumerate(sizes.tolist()):  # pasting and RLE are per image shape
        lo, hi = ptr[i], ptr[i + 1]
        if hi > lo:
            rles = masks_to_rle(paste_masks(probs[lo:hi], boxes[lo:hi], (h, w)))
            counts.extend(r["counts"].encode("ascii") for r in rles)
    return np.array(counts, dtype=np.bytes_).reshape(-1), sizes.numpy()


def decode_object_masks(data: Dict[str, np.ndarray], image: int) -> np.ndarray:
    """``[N', H, W]`` bool masks of the predicted objects of image ``image`` (its position
    in the file) from a predictions dict with ``pred_masks``."""
    if "pred_masks" not in data:
        raise KeyError("decode_object_masks: the predictions hold no 'pred_masks' (written "
                       "by a segmentation-grounded model)")
    h, w = (int(v) for v in data["image_sizes"][image])
    ptr = data["pred_obj_ptr"]
    rows = data["pred_masks"][int(ptr[image]):int(ptr[image + 1])]
    if len(rows) == 0:
        return np.zeros((0, h, w), dtype=bool)
    rles = [{"size": [h, w], "counts": bytes(c)} for c in rows]
    return mask_utils.decode(rles).transpose(2, 0, 1).astype(bool)
