"""pyg_sgg's config and detectron2's config, both ways.

* :func:`add_sgg_config` puts every pyg_sgg key with its default into detectron2's
  ``get_cfg()`` (keys both define take pyg_sgg's default; detectron2's other keys stay), so
  the YAMLs of ``detectron_configs/`` merge into a detectron2 config unchanged and read the
  same values as under pyg_sgg's own config.
* :func:`to_detectron2_config` builds the detectron2 config of the detector a pyg_sgg config
  describes: the ``MODEL.*`` detector keys (named as detectron2 names them), ``INPUT.*``,
  ``DETECTOR.SOLVER`` as ``SOLVER``, then ``DETECTOR.DETECTRON2.OPTS``.
"""
import importlib
from typing import List

from . import require_detectron2

__all__ = ["add_sgg_config", "to_detectron2_config", "feature_names", "register_parts"]


def add_sgg_config(cfg):
    """Put pyg_sgg's keys with their defaults into a detectron2 ``get_cfg()`` in place (a
    key both define takes pyg_sgg's default). Returns ``cfg``."""
    from pyg_sgg.config import get_cfg

    def merge(into, source):
        for k, v in source.items():
            if k == "VERSION" and into is cfg:  # detectron2's config schema version
                continue
            if hasattr(v, "items") and hasattr(into.get(k), "items"):
                merge(into[k], v)
            else:  # a node becomes detectron2's CfgNode class
                into[k] = type(into)(v.clone()) if hasattr(v, "items") else v

    was_frozen = cfg.is_frozen()
    cfg.defrost()
    merge(cfg, get_cfg())
    if was_frozen:
        cfg.freeze()
    return cfg


def register_parts() -> None:
    """Import the modules that register the backbone, ROI heads and meta-architecture in
    detectron2's registries (``build_model`` looks them up by name)."""
    for name in ("backbone", "roi_heads", "meta_arch"):
        importlib.import_module(f"{__package__}.{name}")


def feature_names(cfg) -> List[str]:
    """detectron2 names of the FPN maps the RoI heads read (``p3``, ``p4`` for the small
    2-level FPN; ``p2``-``p5`` for ResNet-FPN)."""
    m = cfg.MODEL
    if m.BACKBONE.NAME.lower() == "small_conv_fpn":
        levels = int(m.FPN.NUM_LEVELS)
        return [f"p{5 - levels + i}" for i in range(levels)]
    return ["p2", "p3", "p4", "p5"]


def to_detectron2_config(cfg, num_classes: int, num_mask_classes: int = 0):
    """The detectron2 config (``JointGeneralizedRCNN``) of the detector of ``cfg``.

    Args:
        cfg: a pyg_sgg config (``pyg_sgg.config.get_cfg()`` + YAML + overrides).
        num_classes (int): VG object classes ``C`` (without background).
        num_mask_classes (int): COCO classes ``K`` of the COCO box predictor and mask head
            (0: box-only, ``MODEL.MASK_ON`` False).
    """
    require_detectron2()
    from detectron2.config import get_cfg as d2_get_cfg

    register_parts()
    d2 = d2_get_cfg()
    m, src = d2.MODEL, cfg.MODEL
    m.META_ARCHITECTURE = "JointGeneralizedRCNN"
    m.DEVICE = src.DEVICE or "cpu"
    m.WEIGHTS = cfg.DETECTOR.INIT_WEIGHTS
    m.MASK_ON = bool(src.MASK_ON and num_mask_classes > 0)
    m.PIXEL_MEAN, m.PIXEL_STD = list(src.PIXEL_MEAN), list(src.PIXEL_STD)
    d2.INPUT.FORMAT = "RGB"  # pyg_sgg's PIXEL_MEAN / PIXEL_STD are RGB
    names = feature_names(cfg)
    if src.BACKBONE.NAME.lower() == "small_conv_fpn":
        m.BACKBONE.NAME = "build_small_conv_fpn_backbone"
        m.BACKBONE.FREEZE_AT = 0
        m.RPN.IN_FEATURES = names
        d2.MODEL.SMALL_CONV_FPN = type(d2)()
        d2.MODEL.SMALL_CONV_FPN.CHANNELS = list(src.BACKBONE.CHANNELS)
        d2.MODEL.SMALL_CONV_FPN.DEPTHS = list(src.BACKBONE.DEPTHS)
        d2.MODEL.SMALL_CONV_FPN.NUM_LEVELS = int(src.FPN.NUM_LEVELS)
        m.FPN.OUT_CHANNELS = int(src.FPN.OUT_CHANNELS)
    else:  # detectron2's own ResNet-FPN (five levels, p6 for the RPN only)
        m.BACKBONE.NAME = "build_resnet_fpn_backbone"
        m.RESNETS.DEPTH = int(src.RESNETS.DEPTH)
        m.RESNETS.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
        m.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
        m.RPN.IN_FEATURES = names + ["p6"]
    m.ANCHOR_GENERATOR.SIZES = [list(s) for s in src.ANCHOR_GENERATOR.SIZES]
    m.ANCHOR_GENERATOR.ASPECT_RATIOS = [list(a) for a in src.ANCHOR_GENERATOR.ASPECT_RATIOS]
    if len(m.ANCHOR_GENERATOR.SIZES) != len(m.RPN.IN_FEATURES):
        raise ValueError(f"config key MODEL.ANCHOR_GENERATOR.SIZES needs "
                         f"{len(m.RPN.IN_FEATURES)} lists (one per feature level), got "
                         f"{len(m.ANCHOR_GENERATOR.SIZES)}")
    r = src.RPN
    m.RPN.PRE_NMS_TOPK_TRAIN, m.RPN.PRE_NMS_TOPK_TEST = r.PRE_NMS_TOPK_TRAIN, r.PRE_NMS_TOPK_TEST
    m.RPN.POST_NMS_TOPK_TRAIN = r.POST_NMS_TOPK_TRAIN
    m.RPN.POST_NMS_TOPK_TEST = r.POST_NMS_TOPK_TEST
    m.RPN.NMS_THRESH = float(r.NMS_THRESH)
    m.RPN.IOU_THRESHOLDS = [float(v) for v in r.IOU_THRESHOLDS]
    m.RPN.BATCH_SIZE_PER_IMAGE = int(r.BATCH_SIZE_PER_IMAGE)
    m.RPN.POSITIVE_FRACTION = float(r.POSITIVE_FRACTION)
    h = src.ROI_HEADS
    m.ROI_HEADS.NAME = "JointROIHeads"
    m.ROI_HEADS.NUM_CLASSES = int(num_classes)
    m.ROI_HEADS.MASK_NUM_CLASSES = int(num_mask_classes) if m.MASK_ON else 0
    m.ROI_HEADS.IN_FEATURES = names
    m.ROI_HEADS.BATCH_SIZE_PER_IMAGE = int(h.BATCH_SIZE_PER_IMAGE)
    m.ROI_HEADS.POSITIVE_FRACTION = float(h.POSITIVE_FRACTION)
    m.ROI_HEADS.IOU_THRESHOLDS = [float(v) for v in h.IOU_THRESHOLDS]
    m.ROI_HEADS.IOU_LABELS = [0, 1] if len(h.IOU_THRESHOLDS) == 1 else [0, -1, 1]
    m.ROI_HEADS.SCORE_THRESH_TEST = float(h.SCORE_THRESH_TEST)
    m.ROI_HEADS.NMS_THRESH_TEST = float(h.NMS_THRESH_TEST)
    b = src.ROI_BOX_HEAD
    m.ROI_BOX_HEAD.NAME = "FastRCNNConvFCHead"
    m.ROI_BOX_HEAD.NUM_FC, m.ROI_BOX_HEAD.NUM_CONV = 2, 0
    m.ROI_BOX_HEAD.FC_DIM = int(b.FC_DIM)
    m.ROI_BOX_HEAD.POOLER_RESOLUTION = int(b.POOLER_RESOLUTION)
    m.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO = int(b.POOLER_SAMPLING_RATIO)
    k = src.ROI_MASK_HEAD
    m.ROI_MASK_HEAD.NAME = "MaskRCNNConvUpsampleHead"
    m.ROI_MASK_HEAD.POOLER_RESOLUTION = int(k.POOLER_RESOLUTION)
    m.ROI_MASK_HEAD.POOLER_SAMPLING_RATIO = int(b.POOLER_SAMPLING_RATIO)
    m.ROI_MASK_HEAD.NUM_CONV, m.ROI_MASK_HEAD.CONV_DIM = int(k.NUM_CONV), int(k.CONV_DIM)
    d2.TEST.DETECTIONS_PER_IMAGE = int(cfg.TEST.DETECTIONS_PER_IMAGE)
    i = cfg.INPUT
    d2.INPUT.MIN_SIZE_TRAIN = tuple(int(v) for v in i.MIN_SIZE_TRAIN)
    d2.INPUT.MAX_SIZE_TRAIN, d2.INPUT.MAX_SIZE_TEST = int(i.MAX_SIZE_TRAIN), int(i.MAX_SIZE_TEST)
    d2.INPUT.MIN_SIZE_TEST = int(i.MIN_SIZE_TEST)
    d2.INPUT.RANDOM_FLIP = i.RANDOM_FLIP
    d2.INPUT.MASK_FORMAT = "bitmask"  # COCO files mix polygons and RLE
    s, ds = d2.SOLVER, cfg.DETECTOR.SOLVER
    for key in ("BASE_LR", "MOMENTUM", "WEIGHT_DECAY", "MAX_ITER", "IMS_PER_BATCH",
                "LR_SCHEDULER_NAME", "GAMMA", "WARMUP_ITERS", "WARMUP_FACTOR",
                "WARMUP_METHOD", "CHECKPOINT_PERIOD"):
        s[key] = ds[key]
    s.STEPS = tuple(int(v) for v in ds.STEPS)
    s.CLIP_GRADIENTS.ENABLED = bool(ds.CLIP_GRADIENTS.ENABLED)
    s.AMP.ENABLED = bool(ds.AMP.ENABLED)
    d2.DATALOADER.NUM_WORKERS = int(cfg.DATALOADER.NUM_WORKERS)
    d2.SEED = int(cfg.SEED)
    opts = list(cfg.DETECTOR.DETECTRON2.OPTS)
    if len(opts) % 2:
        raise ValueError(f"config key DETECTOR.DETECTRON2.OPTS: needs KEY VALUE pairs, got "
                         f"{len(opts)} strings")
    try:
        d2.merge_from_list(opts)
    except (KeyError, AssertionError, ValueError) as e:
        raise ValueError(f"config key DETECTOR.DETECTRON2.OPTS: {e}") from None
    return d2

