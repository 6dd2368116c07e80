"""The detector interface the scene graph models consume.

A detector serves two uses (both under ``torch.no_grad`` once it is frozen):

* :meth:`Detector.extract` (PredCls / SGCls): features for *given* boxes;
* :meth:`Detector.detect` (SGDet): its own boxes, labels, scores and their features.

Pair features are for every ordered pair of an image in the order of
:func:`pyg_sgg.data.scene_graph.all_pairs` (subject-major), so a candidate-pair subset is a
row selection.
"""
from dataclasses import dataclass
from typing import List, Optional

from torch import Tensor


@dataclass
class ImageFeatures:
    """Detector outputs for one image with ``N`` boxes.

    * ``boxes [N, 4]`` xyxy pixels; ``labels [N]`` (1..C; GT labels in PredCls/SGCls);
      ``scores [N]`` (1 for given boxes);
    * ``roi_features [N, D]``; ``pair_features [N (N - 1), D_pair]`` union-box features of
      every ordered pair (``all_pairs`` order);
    * ``class_logits [N, C + 1]`` detector classifier logits (column 0 background);
    * ``mask_logits [N, K, 28, 28]`` per-class mask logits on the mask vocabulary, or None.
    """
    boxes: Tensor
    labels: Tensor
    scores: Tensor
    roi_features: Tensor
    pair_features: Tensor
    class_logits: Tensor
    mask_logits: Optional[Tensor] = None


class Detector:
    """Protocol implemented by the torchvision backend and the detectron2 plugin."""

    #: size ``D`` of ``roi_features``
    feature_dim: int
    #: size of ``pair_features``
    pair_feature_dim: int

    def extract(self, images: List[Tensor], boxes: List[Tensor],
                labels: Optional[List[Tensor]] = None) -> List[ImageFeatures]:
        """Features for given boxes. ``images``: ``[3, H, W]`` float in ``[0, 1]``."""
        raise NotImplementedError

    def detect(self, images: List[Tensor]) -> List[ImageFeatures]:
        """Detections (per-class NMS, capped per image) with their features."""
        raise NotImplementedError
