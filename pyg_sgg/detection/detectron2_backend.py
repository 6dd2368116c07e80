"""Optional detectron2 plugin (``DETECTOR.NAME: "detectron2"``).

detectron2 is imported lazily; without it :func:`require_detectron2` raises an error that
says how to install it. The plugin serves the :class:`~pyg_sgg.detection.base.Detector`
protocol from a detectron2 ``GeneralizedRCNN`` (``extract`` only: RoI / union-box features
and class logits of given boxes).
"""
from typing import List, Optional

import torch
from torch import Tensor

from pyg_sgg.data.scene_graph import all_pairs
from pyg_sgg.detection.base import Detector, ImageFeatures
from pyg_sgg.nn.box_geometry import pair_union_boxes

_INSTALL = ("the detectron2 detector backend needs detectron2, which is not on PyPI: install "
            "it with `pip install 'git+https://github.com/facebookresearch/detectron2.git'` "
            "(see https://detectron2.readthedocs.io/en/latest/tutorials/install.html), or use "
            "DETECTOR.NAME torchvision")


def require_detectron2():
    """Import detectron2 or raise ``ImportError`` with install instructions."""
    try:
        import detectron2  # noqa: F401
    except ImportError as e:
        raise ImportError(_INSTALL) from e
    return detectron2


class Detectron2Detector(Detector):
    """Wraps a detectron2 ``GeneralizedRCNN`` (standard ROI heads) for :meth:`extract`."""

    def __init__(self, model):
        require_detectron2()
        self.model = model.eval()
        heads = model.roi_heads
        self.in_features = heads.box_in_features
        self.feature_dim = heads.box_head.output_shape.channels
        self.pair_feature_dim = self.feature_dim
        self.num_classes = heads.num_classes
        self.masks = False

    @torch.no_grad()
    def extract(self, images: List[Tensor], boxes: List[Tensor],
                labels: Optional[List[Tensor]] = None,
                pair_features: bool = True) -> List[ImageFeatures]:
        from detectron2.structures import Boxes
        m = self.model
        inputs = [{"image": (img * 255).flip(0)} for img in images]  # RGB [0,1] -> BGR 0..255
        il = m.preprocess_image(inputs)
        feats = m.backbone(il.tensor)
        fl = [feats[f] for f in self.in_features]
        heads = m.roi_heads
        out = []
        for i, b in enumerate(boxes):
            b = b.to(il.tensor.device, torch.float32).reshape(-1, 4)
            pairs = all_pairs(torch.tensor([b.size(0) if pair_features else 0])).to(b.device)
            union = pair_union_boxes(b, pairs)
            # per-image pooling keeps a batch index of 0: slice this image's maps
            fi = [f[i:i + 1] for f in fl]
            roi = heads.box_head(heads.box_pooler(fi, [Boxes(b)]))
            pair = heads.box_head(heads.box_pooler(fi, [Boxes(union)]))
            logits = heads.box_predictor(roi)[0]
            # detectron2 puts background last; pyg_sgg puts it first
            logits = torch.cat([logits[:, -1:], logits[:, :-1]], 1)
            lab = labels[i] if labels is not None else logits[:, 1:].argmax(1) + 1
            out.append(ImageFeatures(b, lab, torch.ones(b.size(0)), roi, pair, logits))
        return out


def build_detectron2_detector(cfg):
    """A :class:`Detectron2Detector` from ``DETECTOR.D2_CONFIG_FILE``-style settings is out
    of scope here: build the detectron2 model yourself and wrap it."""
    require_detectron2()
    raise NotImplementedError("build the detectron2 model with detectron2's build_model and "
                              "wrap it in pyg_sgg.detection.detectron2_backend."
                              "Detectron2Detector")
