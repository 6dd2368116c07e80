"""The relation head's own box feature extractor (SGB ``box_feature_extractor``): RoIAlign on
the frozen detector's FPN maps, then a two-FC head initialised from the detector's box head
and trained with the relation loss."""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .roi_pooler import RoIPooler

__all__ = ["BoxFeatureExtractor"]


class BoxFeatureExtractor(torch.nn.Module):
    r"""``pool → flatten → ReLU(fc6) → ReLU(fc7)`` over the boxes of a batch.

    Args:
        in_channels (int): FPN channels :math:`C`.
        resolution (int): pooler output :math:`R` (7 in SGB).
        scales (Sequence[float]): ``1 / stride`` of each FPN map, finest first.
        representation_size (int): width :math:`D` of ``fc6`` / ``fc7``.
        sampling_ratio (int): RoIAlign samples per bin side. (default: ``2``)
        all_levels (bool): pool every level and concatenate (the union extractor, whose
            reduce conv brings the channels back to :math:`C`). (default: :obj:`False`)
        aligned (bool), level_rule (str): the detector's RoIAlign variant and FPN level
            rule (see :class:`RoIPooler`). (default: torchvision's)

    Shapes:
        - **input:** ``maps`` list of :math:`(B, C, H_l, W_l)`, ``boxes`` :math:`(N, 4)`
          (the maps' image pixels), ``batch`` :math:`(N)`
        - **output:** :math:`(N, D)`
    """

    def __init__(self, in_channels: int, resolution: int, scales: Sequence[float],
                 representation_size: int, sampling_ratio: int = 2, all_levels: bool = False,
                 aligned: bool = False, level_rule: str = "torchvision"):
        super().__init__()
        self.in_channels, self.resolution = int(in_channels), int(resolution)
        self.out_channels = int(representation_size)
        self.pooler = RoIPooler(resolution, scales, sampling_ratio, all_levels,
                                aligned=aligned, level_rule=level_rule)
        self.fc6 = torch.nn.Linear(self.in_channels * self.resolution ** 2, self.out_channels)
        self.fc7 = torch.nn.Linear(self.out_channels, self.out_channels)

    def reset_parameters(self):
        """PyTorch's default ``Linear`` init (:meth:`load_box_head` replaces it)."""
        self.fc6.reset_parameters()
        self.fc7.reset_parameters()

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"resolution={self.resolution})")

    def head(self, pooled: Tensor) -> Tensor:
        """``[N, C, R, R] -> [N, D]`` (SGB ``forward_without_pool``)."""
        x = pooled.flatten(1)
        return F.relu(self.fc7(F.relu(self.fc6(x))))

    def forward(self, maps: List[Tensor], boxes: Tensor, batch: Tensor) -> Tensor:
        if boxes.size(0) == 0:
            return boxes.new_zeros(0, self.out_channels)
        return self.head(self.pooler(maps, boxes, batch))

    @torch.no_grad()
    def load_box_head(self, box_head: torch.nn.Module) -> "BoxFeatureExtractor":
        """Copy ``fc6`` / ``fc7`` from a detector's two-FC box head (torchvision's
        ``TwoMLPHead``, detectron2's ``FastRCNNConvFCHead`` with ``fc1`` / ``fc2``)."""
        layers = [m for m in box_head.modules() if isinstance(m, torch.nn.Linear)]
        if len(layers) != 2:
            raise ValueError(f"{type(self).__name__}: the detector's box head has "
                             f"{len(layers)} linear layers, expected 2 (fc6, fc7)")
        for mine, theirs in zip((self.fc6, self.fc7), layers):
            if mine.weight.shape != theirs.weight.shape:
                raise ValueError(f"{type(self).__name__}: box head layer of shape "
                                 f"{tuple(theirs.weight.shape)} does not fit "
                                 f"{tuple(mine.weight.shape)}")
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
        return self
