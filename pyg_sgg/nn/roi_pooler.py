"""RoIAlign over FPN levels for boxes of a whole batch, given as plain tensors."""
import math
import sys
from typing import List, Sequence

import torch
from torch import Tensor
from torchvision.ops import roi_align

__all__ = ["RoIPooler"]


class RoIPooler(torch.nn.Module):
    r"""Pools ``R x R`` RoIAlign features of boxes from a list of FPN maps.

    With ``all_levels=False`` each box reads the one level the FPN rule assigns
    (:math:`k = \lfloor k_0 + \log_2(\sqrt{wh} / 224) \rfloor`, clamped to the levels), as
    torchvision's ``MultiScaleRoIAlign`` does, so a detector's box head sees the same
    input. With ``all_levels=True`` every level is pooled and the results are concatenated
    along channels (SGB's ``POOLING_ALL_LEVELS`` for union boxes).

    Args:
        output_size (int): :math:`R`.
        scales (Sequence[float]): spatial scale of each map, finest first (``1 / stride``).
        sampling_ratio (int): RoIAlign samples per bin side. (default: ``2``)
        all_levels (bool): pool every level and concatenate. (default: :obj:`False`)
        canonical_scale (int), canonical_level (int): the FPN rule's :math:`224`, :math:`k_0`.
        aligned (bool): RoIAlign with the half-pixel shift (detectron2's ``ROIAlignV2``);
            :obj:`False` is torchvision's ``MultiScaleRoIAlign``. (default: :obj:`False`)
        level_rule (str): ``"torchvision"`` (:math:`\epsilon = 10^{-6}` added after the
            log) or ``"detectron2"`` (machine epsilon inside the log): the two libraries
            assign a box exactly on a level boundary differently. (default: ``"torchvision"``)

    Shapes:
        - **input:** ``maps`` list of :math:`(B, C, H_l, W_l)`, ``boxes`` :math:`(N, 4)`
          ``xyxy`` in the maps' image pixels, ``batch`` :math:`(N)` image of each box
        - **output:** :math:`(N, C, R, R)`, or :math:`(N, L C, R, R)` with ``all_levels``
    """

    def __init__(self, output_size: int, scales: Sequence[float], sampling_ratio: int = 2,
                 all_levels: bool = False, canonical_scale: int = 224,
                 canonical_level: int = 4, aligned: bool = False,
                 level_rule: str = "torchvision"):
        super().__init__()
        if level_rule not in ("torchvision", "detectron2"):
            raise ValueError(f"RoIPooler: level_rule must be 'torchvision' or 'detectron2', "
                             f"got {level_rule!r}")
        self.aligned, self.level_rule = bool(aligned), level_rule
        if len(scales) == 0:
            raise ValueError("RoIPooler: 'scales' is empty")
        self.output_size = int(output_size)
        self.scales = tuple(float(s) for s in scales)
        self.sampling_ratio = int(sampling_ratio)
        self.all_levels = bool(all_levels)
        self.canonical_scale = canonical_scale
        self.canonical_level = canonical_level
        self.k_min = int(round(-math.log2(self.scales[0])))
        self.k_max = int(round(-math.log2(self.scales[-1])))

    @property
    def num_levels(self) -> int:
        return len(self.scales)

    def levels(self, boxes: Tensor) -> Tensor:
        """``[N]`` level index of each box (torchvision's ``LevelMapper`` or detectron2's
        ``assign_boxes_to_levels`` arithmetic, see ``level_rule``)."""
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        s = torch.sqrt(area)
        if self.level_rule == "detectron2":
            k = torch.floor(self.canonical_level
                            + torch.log2(s / self.canonical_scale + sys.float_info.epsilon))
        else:
            k = torch.floor(self.canonical_level + torch.log2(s / self.canonical_scale)
                            + torch.tensor(1e-6, dtype=s.dtype))
        k = torch.clamp(k, min=self.k_min, max=self.k_max)
        return k.to(torch.int64) - self.k_min

    def forward(self, maps: List[Tensor], boxes: Tensor, batch: Tensor) -> Tensor:
        if len(maps) != self.num_levels:
            raise ValueError(f"RoIPooler: got {len(maps)} maps for {self.num_levels} scales")
        R = self.output_size
        rois = torch.cat([batch.to(boxes.dtype).view(-1, 1), boxes], dim=1)
        rois = rois.to(maps[0].dtype)

        def pool(level: int, r: Tensor) -> Tensor:
            return roi_align(maps[level], r, (R, R), spatial_scale=self.scales[level],
                             sampling_ratio=self.sampling_ratio, aligned=self.aligned)

        if self.all_levels:
            return torch.cat([pool(lvl, rois) for lvl in range(self.num_levels)], dim=1)
        if self.num_levels == 1:
            return pool(0, rois)
        level = self.levels(boxes)
        out = maps[0].new_empty(boxes.size(0), maps[0].size(1), R, R)  # every row is written
        for lvl in range(self.num_levels):
            idx = (level == lvl).nonzero().view(-1)
            if idx.numel():
                out[idx] = pool(lvl, rois[idx])
        return out

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, scales={self.scales}, "
                f"sampling_ratio={self.sampling_ratio}, all_levels={self.all_levels}"
                + (", aligned=True" if self.aligned else "")
                + (f", level_rule={self.level_rule!r}" if self.level_rule != "torchvision"
                   else ""))
