"""Object grounding (Khandelwal et al., ICCV'21; METHODS.md §2.4): box features from the
28×28 pooled FPN map concatenated with the box's transferred class masks, combined by a
3×3 convolution (the authors' ``mask_combiner``, no activation), then the two-FC head.

``pool_to`` < the pooler resolution is the cheaper variant: the combined map is average
pooled to ``pool_to × pool_to`` before ``fc6`` (with 28 → 7 the FC head has SGB's box-head
size, 16× fewer ``fc6`` weights), so the masks still shape the features.
"""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .roi_pooler import RoIPooler

__all__ = ["MaskGroundedBoxExtractor"]


class MaskGroundedBoxExtractor(torch.nn.Module):
    r"""``pool(R) ‖ masks → conv3×3 → [avg-pool] → ReLU(fc6) → ReLU(fc7)``.

    Args:
        in_channels (int): FPN channels :math:`C`.
        num_mask_classes (int): mask channels :math:`M` (the VG classes after transfer).
        scales (Sequence[float]): ``1 / stride`` of each FPN map, finest first.
        representation_size (int): :math:`D`.
        resolution (int): pooler output and mask size :math:`R`. (default: ``28``)
        pool_to (int): spatial size before ``fc6`` (``R``: the authors'). (default: ``28``)
        sampling_ratio (int): RoIAlign samples per bin side. (default: ``2``)

    Shapes:
        - **input:** ``maps`` list of :math:`(B, C, H_l, W_l)`, ``boxes`` :math:`(N, 4)`,
          ``batch`` :math:`(N)`, ``masks`` :math:`(N, M, R, R)` (probabilities)
        - **output:** :math:`(N, D)`
    """

    def __init__(self, in_channels: int, num_mask_classes: int, scales: Sequence[float],
                 representation_size: int, resolution: int = 28, pool_to: int = 28,
                 sampling_ratio: int = 2):
        super().__init__()
        if resolution % pool_to:
            raise ValueError(f"MaskGroundedBoxExtractor: pool_to {pool_to} must divide the "
                             f"resolution {resolution}")
        self.in_channels, self.num_mask_classes = int(in_channels), int(num_mask_classes)
        self.resolution, self.pool_to = int(resolution), int(pool_to)
        self.out_channels = int(representation_size)
        self.pooler = RoIPooler(resolution, scales, sampling_ratio)
        self.mask_combiner = torch.nn.Conv2d(self.in_channels + self.num_mask_classes,
                                             self.in_channels, 3, padding=1)
        self.fc6 = torch.nn.Linear(self.in_channels * self.pool_to ** 2, self.out_channels)
        self.fc7 = torch.nn.Linear(self.out_channels, self.out_channels)
        self.reset_parameters()

    def reset_parameters(self):
        for layer in (self.mask_combiner, self.fc6, self.fc7):  # detectron2's c2_xavier_fill
            torch.nn.init.kaiming_uniform_(layer.weight, a=1)
            torch.nn.init.zeros_(layer.bias)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"masks={self.num_mask_classes}, resolution={self.resolution}, "
                f"pool_to={self.pool_to})")

    def head(self, pooled: Tensor, masks: Tensor) -> Tensor:
        """``[N, C, R, R]`` and ``[N, M, R, R]`` → ``[N, D]``."""
        # conv(pooled ‖ masks) as the sum of its two halves, channels-last: no gradient is
        # computed for the frozen pooled maps, and the convolutions run ≈ 1.5× faster on a CPU
        w, C = self.mask_combiner.weight, self.in_channels
        cl = torch.channels_last
        x = (F.conv2d(pooled.contiguous(memory_format=cl), w[:, :C], self.mask_combiner.bias,
                      padding=1)
             + F.conv2d(masks.to(pooled.dtype).contiguous(memory_format=cl), w[:, C:],
                        padding=1))
        if self.pool_to != self.resolution:
            x = F.avg_pool2d(x, self.resolution // self.pool_to)
        return F.relu(self.fc7(F.relu(self.fc6(x.flatten(1)))))

    def forward(self, maps: List[Tensor], boxes: Tensor, batch: Tensor, masks: Tensor) -> Tensor:
        if boxes.size(0) == 0:
            return boxes.new_zeros(0, self.out_channels)
        if masks.shape[1:] != (self.num_mask_classes, self.resolution, self.resolution):
            raise ValueError(f"MaskGroundedBoxExtractor: masks of shape {list(masks.shape)}, "
                             f"expected [N, {self.num_mask_classes}, {self.resolution}, "
                             f"{self.resolution}]")
        return self.head(self.pooler(maps, boxes, batch), masks)
