"""Backbones for the torchvision detector.

* :class:`SmallConvFPN`: a few conv stages and a two-level FPN, for the embedded SynthVG /
  SynthCOCO images (128-256 px); trains from scratch in minutes on a CPU.
* :func:`build_resnet_fpn_backbone`: torchvision's ResNet-FPN for real VG / COCO images
  (random init; load detector weights with ``MODEL.WEIGHTS``).
"""
from collections import OrderedDict
from typing import Dict, Sequence

import torch.nn.functional as F
from torch import Tensor, nn


def _conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallConvFPN(nn.Module):
    r"""Four stride-2 conv stages (strides 2, 4, 8, 16) and an FPN on the last
    ``num_levels`` stages.

    Args:
        channels (Sequence[int]): output channels of the four stages.
            (default: ``(16, 32, 64, 128)``)
        out_channels (int): FPN channels. (default: ``64``)
        num_levels (int): FPN levels, the coarsest ones (1 to 3, i.e. stride 16 only up
            to strides 4, 8, 16). (default: ``2``)
        depths (Sequence[int]): 3x3 convs per stage (the first has stride 2).
            (default: ``(1, 2, 2, 2)``)

    Shapes:
        - **input:** ``[B, 3, H, W]``
        - **output:** ``OrderedDict`` ``{"0": [B, out, H/2^(5-L), ...], ...}`` finest first.
    """

    def __init__(self, channels: Sequence[int] = (16, 32, 64, 128), out_channels: int = 64,
                 num_levels: int = 2, depths: Sequence[int] = (1, 2, 2, 2)):
        super().__init__()
        if not 1 <= num_levels <= 3:
            raise ValueError(f"SmallConvFPN: num_levels must be 1..3, got {num_levels}")
        self.channels = tuple(int(c) for c in channels)
        self.out_channels = int(out_channels)
        self.num_levels = int(num_levels)
        self.depths = tuple(int(d) for d in depths)
        if len(self.depths) != len(self.channels) or min(self.depths) < 1:
            raise ValueError(f"SmallConvFPN: need one depth >= 1 per stage, got {depths}")
        stages, prev = [], 3
        for c, d in zip(self.channels, self.depths):
            stages.append(nn.Sequential(_conv(prev, c, 2), *[_conv(c, c) for _ in range(d - 1)]))
            prev = c
        self.stages = nn.ModuleList(stages)
        used = self.channels[-self.num_levels:]
        self.lateral = nn.ModuleList(nn.Conv2d(c, self.out_channels, 1) for c in used)
        self.output = nn.ModuleList(
            nn.Conv2d(self.out_channels, self.out_channels, 3, padding=1) for _ in used)
        self.reset_parameters()

    def reset_parameters(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()

    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        feats = feats[-self.num_levels:]
        top = self.lateral[-1](feats[-1])
        outs = [self.output[-1](top)]
        for i in range(self.num_levels - 2, -1, -1):
            lat = self.lateral[i](feats[i])
            top = lat + F.interpolate(top, size=lat.shape[-2:], mode="nearest")
            outs.insert(0, self.output[i](top))
        return OrderedDict((str(i), o) for i, o in enumerate(outs))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({list(self.channels)}, "
                f"out_channels={self.out_channels}, num_levels={self.num_levels}, "
                f"depths={list(self.depths)})")


def build_resnet_fpn_backbone(depth: int = 50, trainable_layers: int = 5) -> nn.Module:
    """torchvision ResNet-FPN (randomly initialised; nothing is downloaded)."""
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    return resnet_fpn_backbone(backbone_name=f"resnet{depth}", weights=None,
                               trainable_layers=trainable_layers)
