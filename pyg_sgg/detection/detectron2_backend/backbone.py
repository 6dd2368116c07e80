"""The small CPU FPN (:class:`~pyg_sgg.detection.backbone.SmallConvFPN`) as a registered
detectron2 ``Backbone`` (``MODEL.BACKBONE.NAME build_small_conv_fpn_backbone``), so the
embedded SynthVG / SynthCOCO detector exists under both backends with the same layers."""
from typing import Dict

from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from torch import Tensor

from pyg_sgg.detection.backbone import SmallConvFPN

__all__ = ["SmallConvFPNBackbone", "build_small_conv_fpn_backbone"]


class SmallConvFPNBackbone(Backbone):
    """:class:`SmallConvFPN` (as ``net``) with detectron2's output names ``p<log2 stride>``,
    finest first, and size divisibility 32 (torchvision's padding).

    Shapes:
        - **input:** ``[B, 3, H, W]``
        - **output:** ``{"p3": [B, C, H / 8, W / 8], "p4": [B, C, H / 16, W / 16]}`` for two
          levels
    """

    def __init__(self, net: SmallConvFPN):
        super().__init__()
        self.net = net
        first = 5 - net.num_levels
        self._out_features = [f"p{first + i}" for i in range(net.num_levels)]
        self._out_feature_strides = {n: 2 ** (first + i) for i, n in enumerate(self._out_features)}
        self._out_feature_channels = {n: net.out_channels for n in self._out_features}

    @property
    def size_divisibility(self) -> int:
        return 32

    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        return dict(zip(self._out_features, self.net(x).values()))

    def output_shape(self) -> Dict[str, ShapeSpec]:
        return {n: ShapeSpec(channels=self._out_feature_channels[n],
                             stride=self._out_feature_strides[n]) for n in self._out_features}


@BACKBONE_REGISTRY.register()
def build_small_conv_fpn_backbone(cfg, input_shape) -> SmallConvFPNBackbone:
    s = cfg.MODEL.SMALL_CONV_FPN
    return SmallConvFPNBackbone(SmallConvFPN(s.CHANNELS, cfg.MODEL.FPN.OUT_CHANNELS,
                                             s.NUM_LEVELS, s.DEPTHS))
