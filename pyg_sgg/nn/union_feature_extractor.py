"""The union-box feature extractor of SGB's relation head (``RelationFeatureExtractor``): the
union box pooled from every FPN level and reduced by a 3x3 conv, plus a spatial branch on the
two boxes rasterised as masks, through a two-FC head initialised from the detector's."""
from typing import List, Sequence

import torch
from torch import Tensor, nn

from .box_feature_extractor import BoxFeatureExtractor
from .box_geometry import pair_union_boxes

__all__ = ["pair_rectangles", "UnionFeatureExtractor"]


def pair_rectangles(boxes: Tensor, edge_index: Tensor, image_size: Tensor, size: int) -> Tensor:
    r"""The subject and object box of each pair as a 2-channel binary mask on a
    ``size x size`` grid spanning the whole image (SGB: boxes scaled by ``size / W``,
    ``size / H``; cell :math:`(y, x)` is inside when
    :math:`\lfloor x_1 \rfloor \le x \le \lceil x_2 \rceil` and the same for :math:`y`).

    Args:
        boxes (Tensor): ``[N, 4]`` ``xyxy``.
        edge_index (Tensor): ``[2, E]`` (subject, object).
        image_size (Tensor): ``[N, 2]`` ``(height, width)`` of each box's image, in the
            boxes' pixels.
        size (int): grid side.

    Returns:
        Tensor: ``[E, 2, size, size]`` float (channel 0 subject, 1 object).
    """
    hw = image_size.to(boxes.dtype)
    scale = size / torch.stack([hw[:, 1], hw[:, 0]], dim=1).repeat(1, 2)  # [N, 4]
    b = boxes * scale
    lo, hi = b[:, :2].floor().long(), b[:, 2:].ceil().long()  # [N, 2] (x, y)
    r = torch.arange(size, device=boxes.device)
    inside_x = (r >= lo[:, :1]) & (r <= hi[:, :1])  # [N, size]
    inside_y = (r >= lo[:, 1:]) & (r <= hi[:, 1:])
    masks = inside_y[:, :, None] & inside_x[:, None, :]  # [N, y, x]
    return torch.stack([masks[edge_index[0]], masks[edge_index[1]]], dim=1).to(boxes.dtype)


class UnionFeatureExtractor(nn.Module):
    r"""Union-box features of candidate pairs:
    ``head(reduce(pool_all_levels(union box)) + spatial(rectangles))``.

    * ``reduce``: 3x3 conv :math:`L C \to C` + ReLU (only with ``all_levels`` and
      :math:`L > 1`; SGB's pooler ``reduce_channel``);
    * ``spatial``: :func:`pair_rectangles` on a :math:`(4R - 1)^2` grid →
      ``Conv 7x7/2 → ReLU → BN → MaxPool 3/2 → Conv 3x3 → ReLU → BN`` to :math:`(C, R, R)`;
    * ``head``: ``fc6`` / ``fc7`` as :class:`BoxFeatureExtractor` (load the detector's with
      :meth:`load_box_head`).

    Args:
        in_channels (int): FPN channels :math:`C`.
        resolution (int): pooler output :math:`R`.
        scales (Sequence[float]): ``1 / stride`` of each map, finest first.
        representation_size (int): output width :math:`D`.
        sampling_ratio (int): RoIAlign samples per bin side. (default: ``2``)
        all_levels (bool): pool the union box from every level (SGB default).
            (default: :obj:`True`)
        spatial (bool): add the rectangle branch. (default: :obj:`True`)
        aligned (bool), level_rule (str): the detector's RoIAlign variant and FPN level
            rule (see :class:`~pyg_sgg.nn.RoIPooler`). (default: torchvision's)

    Shapes:
        - **input:** ``maps``, ``boxes`` :math:`(N, 4)`, ``edge_index`` :math:`(2, E)`,
          ``batch`` :math:`(N)`, ``image_size`` :math:`(N, 2)` (the boxes' image)
        - **output:** :math:`(E, D)`
    """

    def __init__(self, in_channels: int, resolution: int, scales: Sequence[float],
                 representation_size: int, sampling_ratio: int = 2, all_levels: bool = True,
                 spatial: bool = True, aligned: bool = False, level_rule: str = "torchvision"):
        super().__init__()
        C, R = int(in_channels), int(resolution)
        self.box = BoxFeatureExtractor(C, R, scales, representation_size, sampling_ratio,
                                       all_levels=all_levels, aligned=aligned,
                                       level_rule=level_rule)
        self.out_channels = self.box.out_channels
        self.reduce = None
        if all_levels and len(scales) > 1:
            self.reduce = nn.Sequential(nn.Conv2d(C * len(scales), C, 3, padding=1),
                                        nn.ReLU(inplace=True))
        self.rect_size = 4 * R - 1
        self.spatial = None
        if spatial:
            self.spatial = nn.Sequential(
                nn.Conv2d(2, C // 2, 7, stride=2, padding=3), nn.ReLU(inplace=True),
                nn.BatchNorm2d(C // 2, momentum=0.01), nn.MaxPool2d(3, stride=2, padding=1),
                nn.Conv2d(C // 2, C, 3, padding=1), nn.ReLU(inplace=True),
                nn.BatchNorm2d(C, momentum=0.01))
        self.reset_parameters()

    def reset_parameters(self):
        """``reduce``: Kaiming-normal (fan out) with zero bias, as SGB's ``make_conv3x3``;
        the spatial branch and the head: PyTorch's defaults."""
        self.box.reset_parameters()
        if self.reduce is not None:
            nn.init.kaiming_normal_(self.reduce[0].weight, mode="fan_out",
                                    nonlinearity="relu")
            nn.init.zeros_(self.reduce[0].bias)
        for m in (self.spatial or []):
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()

    def forward(self, maps: List[Tensor], boxes: Tensor, edge_index: Tensor, batch: Tensor,
                image_size: Tensor) -> Tensor:
        if edge_index.size(1) == 0:
            return boxes.new_zeros(0, self.out_channels)
        union = pair_union_boxes(boxes, edge_index)
        x = self.box.pooler(maps, union, batch[edge_index[0]])
        if self.reduce is not None:
            x = self.reduce(x)
        if self.spatial is not None:
            x = x + self.spatial(pair_rectangles(boxes, edge_index, image_size,
                                                 self.rect_size).to(x.dtype))
        return self.box.head(x)

    def load_box_head(self, box_head: nn.Module) -> "UnionFeatureExtractor":
        """Initialise ``fc6`` / ``fc7`` from the detector's box head (SGB's load mapping)."""
        self.box.load_box_head(box_head)
        return self
