"""Detectors serving RoI / union-box features, class and mask logits to the SGG models."""
from .base import Detector, ImageFeatures
from .config import add_detector_config, build_detector_from_config, train_detector_from_config
from .features import DetectorFeatureDataset, FeatureCache
from .joint_mask_rcnn import JointMaskRCNN
from .torchvision_backend import TorchvisionDetector

__all__ = ["Detector", "ImageFeatures", "JointMaskRCNN", "TorchvisionDetector",
           "FeatureCache", "DetectorFeatureDataset", "add_detector_config",
           "build_detector_from_config", "train_detector_from_config"]
