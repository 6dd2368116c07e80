"""Class indices between pyg_sgg and detectron2 — the only place that converts them.

pyg_sgg: background is 0, object classes are ``1..C`` (the dataset's dictionary order), and
classifier logits are ``[N, C + 1]`` with background in column 0. detectron2: object classes
are ``0..C-1``, background is ``C``, the classifier's last column; its box regressor has no
background rows and its mask predictor no background channel.
"""
import torch
from torch import Tensor

__all__ = ["to_detectron2_classes", "from_detectron2_classes", "from_detectron2_logits",
           "classifier_rows_to_detectron2", "box_regressor_rows_to_detectron2",
           "mask_channels_to_detectron2"]


def to_detectron2_classes(labels: Tensor) -> Tensor:
    """pyg_sgg labels ``1..C`` -> detectron2 ``gt_classes`` ``0..C-1``."""
    return labels - 1


def from_detectron2_classes(classes: Tensor) -> Tensor:
    """detectron2 ``pred_classes`` ``0..C-1`` -> pyg_sgg labels ``1..C``."""
    return classes + 1


def from_detectron2_logits(logits: Tensor) -> Tensor:
    """``[..., C + 1]`` detectron2 classifier logits (background last) -> pyg_sgg order
    (background first)."""
    return torch.cat([logits[..., -1:], logits[..., :-1]], dim=-1)


def classifier_rows_to_detectron2(rows: Tensor) -> Tensor:
    """A pyg_sgg / torchvision classifier's ``[C + 1, ...]`` weight or bias (background row
    first) in detectron2's row order (background last)."""
    return torch.cat([rows[1:], rows[:1]], dim=0)


def box_regressor_rows_to_detectron2(rows: Tensor) -> Tensor:
    """torchvision's class-specific box regressor ``[(C + 1) 4, ...]`` -> detectron2's
    ``[C 4, ...]`` (its background rows dropped)."""
    return rows[4:]


def mask_channels_to_detectron2(rows: Tensor) -> Tensor:
    """torchvision's mask predictor ``[K + 1, ...]`` -> detectron2's ``[K, ...]``."""
    return rows[1:]
