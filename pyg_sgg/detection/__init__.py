"""Detectors serving RoI / union-box features, class and mask logits to the SGG models; each
name is imported when first used (``pyg_sgg.detection.config`` needs no torch)."""
from ..lazy_exports import lazy_exports

_EXPORTS = {"Detector": ".base", "ImageFeatures": ".base",
            "add_detector_config": ".config",
            "build_detector_from_config": ".build",
            "DetectorFeatureDataset": ".features", "FeatureCache": ".features",
            "JointMaskRCNN": ".joint_mask_rcnn", "TorchvisionDetector": ".torchvision_backend"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
