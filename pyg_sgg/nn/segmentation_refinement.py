"""The refinement head ``f_M'`` of segmentation-grounded SGG (Khandelwal et al., ICCV'21;
METHODS.md §2.6): the scene graph model's context features of each object refine the frozen
detector's mask logits, trained on COCO images only (per-pixel BCE on the object's class
channel, detectron2's ``mask_rcnn_loss``).

``context [N, F] → Linear → [N, H]`` broadcast over the ``R × R`` grid ‖ the ``R × R`` pooled FPN
map → ``conv3×3 / 2 + ReLU`` (the authors' ``segmentation_reducer``) → ``num_conv`` ×
``conv3×3 + ReLU`` → ``deconv ×2 + ReLU`` → ``conv1×1`` to ``K`` classes (initialised to 0),
added to ``logit(σ(frozen logits))``: at initialisation the refined masks are the frozen ones.
"""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import roi_align

from .roi_pooler import RoIPooler

__all__ = ["SegmentationRefinement", "mask_targets", "mask_bce_loss"]


class SegmentationRefinement(nn.Module):
    r"""Residual mask refinement from context features.

    Args:
        context_channels (int): :math:`F`, the context encoder's node-state width.
        in_channels (int): FPN channels :math:`C`.
        num_mask_classes (int): :math:`K` (the COCO vocabulary of the detector's mask head).
        scales (Sequence[float]): ``1 / stride`` of each FPN map, finest first.
        hidden_channels (int): :math:`H` (256 in the authors' code). (default: ``256``)
        num_conv (int): 3×3 convolutions at half resolution (4: the authors'). (default: ``4``)
        resolution (int): :math:`R`, the pooled and refined mask size. (default: ``28``)
        sampling_ratio (int): RoIAlign samples per bin side. (default: ``2``)

    Shapes:
        - **input:** ``context`` :math:`(N, F)`, ``maps`` list of :math:`(B, C, H_l, W_l)`,
          ``boxes`` :math:`(N, 4)` (the maps' image pixels), ``batch`` :math:`(N)`,
          ``mask_logits`` :math:`(N, K, R, R)` (the frozen mask head's)
        - **output:** refined logits :math:`(N, K, R, R)`
    """

    def __init__(self, context_channels: int, in_channels: int, num_mask_classes: int,
                 scales: Sequence[float], hidden_channels: int = 256, num_conv: int = 4,
                 resolution: int = 28, sampling_ratio: int = 2):
        super().__init__()
        if resolution % 2:
            raise ValueError(f"SegmentationRefinement: resolution must be even, got "
                             f"{resolution}")
        H, C = int(hidden_channels), int(in_channels)
        self.context_channels, self.in_channels = int(context_channels), C
        self.num_mask_classes, self.resolution = int(num_mask_classes), int(resolution)
        self.pooler = RoIPooler(resolution, scales, sampling_ratio)
        self.context = nn.Linear(self.context_channels, H)
        self.reducer = nn.Conv2d(H + C, H, 3, stride=2, padding=1)
        self.convs = nn.ModuleList(nn.Conv2d(H, H, 3, padding=1) for _ in range(num_conv))
        self.deconv = nn.ConvTranspose2d(H, H, 2, stride=2)
        self.predictor = nn.Conv2d(H, self.num_mask_classes, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-normal (fan out) convolutions with zero bias as detectron2's mask head,
        the predictor at 0 (the authors' ``SGSceneGraphMaskHead``)."""
        for m in [self.reducer, *self.convs, self.deconv]:
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        self.context.reset_parameters()
        nn.init.zeros_(self.predictor.weight)
        nn.init.zeros_(self.predictor.bias)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.context_channels}, {self.in_channels}, "
                f"classes={self.num_mask_classes}, resolution={self.resolution})")

    def forward(self, context: Tensor, maps: List[Tensor], boxes: Tensor, batch: Tensor,
                mask_logits: Tensor) -> Tensor:
        R, K = self.resolution, self.num_mask_classes
        if mask_logits.shape[1:] != (K, R, R):
            raise ValueError(f"SegmentationRefinement: mask_logits of shape "
                             f"{list(mask_logits.shape)}, expected [N, {K}, {R}, {R}]")
        if boxes.size(0) == 0:
            return mask_logits.new_zeros(0, K, R, R)
        pooled = self.pooler(maps, boxes, batch)
        ctx = self.context(context.to(pooled.dtype))[:, :, None, None].expand(-1, -1, R, R)
        x = F.relu(self.reducer(torch.cat([ctx, pooled], 1)))
        for conv in self.convs:
            x = F.relu(conv(x))
        x = self.predictor(F.relu(self.deconv(x)))
        m = torch.sigmoid(mask_logits.to(x.dtype))
        return x + torch.log(m + 1e-8) - torch.log1p(-m + 1e-8)  # x + logit(m)


def mask_targets(masks: Tensor, boxes: Tensor, resolution: int = 28) -> Tensor:
    """``[N, R, R]`` binary targets: each object's full-image mask ``[N, H, W]`` cropped to its
    box ``[N, 4]`` (image pixels) and resized, as detectron2's ``crop_and_resize``."""
    if boxes.size(0) == 0:
        return masks.new_zeros(0, resolution, resolution, dtype=torch.float32)
    rois = torch.cat([torch.arange(boxes.size(0), dtype=boxes.dtype)[:, None], boxes], 1)
    out = roi_align(masks[:, None].float(), rois.float(), (resolution, resolution), 1.0,
                    sampling_ratio=0, aligned=True)
    return (out[:, 0] >= 0.5).float()


def mask_bce_loss(refined: Tensor, labels: Tensor, targets: Tensor) -> Tensor:
    """Mean per-pixel BCE of each object's channel ``labels [N]`` (``1..K``) of ``refined
    [N, K, R, R]`` against ``targets [N, R, R]``; a graph-connected 0 without objects (the
    authors replace a NaN of an empty batch by 0)."""
    if refined.size(0) == 0:
        return refined.sum() * 0.0
    picked = refined[torch.arange(refined.size(0), device=refined.device), labels.long() - 1]
    return F.binary_cross_entropy_with_logits(picked, targets.to(picked.dtype))
