"""Config → detector: its datasets, the model, and the frozen detector the relation models
read (``DETECTOR.WEIGHTS``, else the one trained with this config in the cache). Training is
:mod:`pyg_sgg.engine.detector_training`."""
import json
import logging
from pathlib import Path
from typing import Dict, Tuple

from .cache_key import detector_output_dir, explain_missing_detector

__all__ = ["build_detector_datasets", "build_detector_model", "class_counts",
           "load_detector_model", "resolve_detector_weights", "detector_class_counts",
           "build_detector_from_config"]

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- datasets
def build_detector_datasets(cfg, splits=("vg_train", "vg_test", "coco_train", "coco_val")
                            ) -> Dict[str, object]:
    """The detector's datasets: VG ``train`` (all train images: no validation hold-out, no
    relation filters) and ``test``; COCO ``train`` / ``val`` (only when MODEL.MASK_ON)."""
    from pyg_sgg.data.roots import coco_paths, vg_paths, vg_root
    from pyg_sgg.data.vg import VGDataset
    vg = cfg.DATASETS.VG
    root = vg_root(cfg)
    files = vg_paths(cfg, root)
    out = {}
    for s in splits:
        if s.startswith("vg_"):
            out[s] = VGDataset(root, s[3:], h5_file=files["H5_FILE"],
                               dicts_file=files["DICTS_FILE"],
                               image_data_file=files["IMAGE_DATA_FILE"],
                               image_dir=files["IMAGE_DIR"], num_val_images=0,
                               filter_empty_rels=False, filter_duplicate_rels=False,
                               filter_non_overlap=False, box_scale=vg.BOX_SCALE,
                               num_images=vg.NUM_IMAGES)
        elif cfg.MODEL.MASK_ON:
            from pyg_sgg.data.coco import COCOMaskDataset
            coco = coco_paths(cfg, root)
            ann = coco["TRAIN_ANNOTATIONS" if s == "coco_train" else "VAL_ANNOTATIONS"]
            out[s] = COCOMaskDataset(str(ann), str(coco["IMAGE_DIR"]))
    return out


# ------------------------------------------------------------------------------- models
def build_detector_model(cfg, num_classes: int, num_mask_classes: int = 0):
    """:class:`JointMaskRCNN` from the config (class counts without background)."""
    from pyg_sgg.detection.backbone import (SmallConvFPN,
                                            build_resnet_fpn_backbone)
    from pyg_sgg.detection.joint_mask_rcnn import JointMaskRCNN
    m = cfg.MODEL
    name = m.BACKBONE.NAME.lower()
    if name == "small_conv_fpn":
        backbone = SmallConvFPN(m.BACKBONE.CHANNELS, m.FPN.OUT_CHANNELS, m.FPN.NUM_LEVELS,
                                m.BACKBONE.DEPTHS)
        levels = m.FPN.NUM_LEVELS
    elif name == "resnet_fpn":
        backbone = build_resnet_fpn_backbone(m.RESNETS.DEPTH)
        levels = 5
    else:
        raise ValueError(f"config key MODEL.BACKBONE.NAME must be 'small_conv_fpn' or "
                         f"'resnet_fpn', got {m.BACKBONE.NAME!r}")
    sizes = [list(s) for s in m.ANCHOR_GENERATOR.SIZES]
    if len(sizes) != levels:
        raise ValueError(f"config key MODEL.ANCHOR_GENERATOR.SIZES needs {levels} lists "
                         f"(one per feature level), got {len(sizes)}")
    inp = cfg.INPUT
    num_anchor_sizes = {len(s) for s in sizes}
    if len(num_anchor_sizes) != 1:
        raise ValueError("config key MODEL.ANCHOR_GENERATOR.SIZES: every level needs the "
                         "same number of sizes (torchvision's RPN head is shared)")
    return JointMaskRCNN(
        backbone, num_classes, num_mask_classes if m.MASK_ON else 0,
        min_size=tuple(inp.MIN_SIZE_TRAIN), max_size=inp.MAX_SIZE_TRAIN,
        min_size_test=inp.MIN_SIZE_TEST,
        image_mean=[v / 255.0 for v in m.PIXEL_MEAN], image_std=[v / 255.0 for v in m.PIXEL_STD],
        featmap_names=["0", "1", "2", "3"] if name == "resnet_fpn" else None,
        anchor_sizes=sizes, aspect_ratios=m.ANCHOR_GENERATOR.ASPECT_RATIOS[0],
        rpn_pre_nms_top_n_train=m.RPN.PRE_NMS_TOPK_TRAIN,
        rpn_pre_nms_top_n_test=m.RPN.PRE_NMS_TOPK_TEST,
        rpn_post_nms_top_n_train=m.RPN.POST_NMS_TOPK_TRAIN,
        rpn_post_nms_top_n_test=m.RPN.POST_NMS_TOPK_TEST, rpn_nms_thresh=m.RPN.NMS_THRESH,
        rpn_bg_iou_thresh=m.RPN.IOU_THRESHOLDS[0], rpn_fg_iou_thresh=m.RPN.IOU_THRESHOLDS[-1],
        rpn_batch_size_per_image=m.RPN.BATCH_SIZE_PER_IMAGE,
        rpn_positive_fraction=m.RPN.POSITIVE_FRACTION,
        box_pooler_resolution=m.ROI_BOX_HEAD.POOLER_RESOLUTION,
        pooler_sampling_ratio=m.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO,
        representation_size=m.ROI_BOX_HEAD.FC_DIM,
        box_score_thresh=m.ROI_HEADS.SCORE_THRESH_TEST,
        box_nms_thresh=m.ROI_HEADS.NMS_THRESH_TEST,
        box_detections_per_img=cfg.TEST.DETECTIONS_PER_IMAGE,
        box_fg_iou_thresh=m.ROI_HEADS.IOU_THRESHOLDS[-1],
        box_bg_iou_thresh=m.ROI_HEADS.IOU_THRESHOLDS[0],
        box_batch_size_per_image=m.ROI_HEADS.BATCH_SIZE_PER_IMAGE,
        box_positive_fraction=m.ROI_HEADS.POSITIVE_FRACTION,
        mask_pooler_resolution=m.ROI_MASK_HEAD.POOLER_RESOLUTION,
        mask_head_layers=[m.ROI_MASK_HEAD.CONV_DIM] * m.ROI_MASK_HEAD.NUM_CONV)


def class_counts(cfg, datasets) -> Tuple[int, int]:
    c = cfg.MODEL.ROI_HEADS.NUM_CLASSES or len(datasets["vg"].object_classes) - 1
    k = 0
    if cfg.MODEL.MASK_ON:
        k = cfg.MODEL.ROI_HEADS.MASK_NUM_CLASSES or len(datasets["coco"].class_names) - 1
    return c, k


def load_detector_model(cfg, weights, num_classes: int, num_mask_classes: int = 0):
    """:class:`JointMaskRCNN` of ``cfg`` with the ``model`` state dict of ``weights``."""
    from pyg_sgg.checkpoint_io import load_model_state, read_checkpoint
    from pyg_sgg.detection.training import detector_state_dict
    model = build_detector_model(cfg, num_classes, num_mask_classes)
    load_model_state(model, {"model": detector_state_dict(read_checkpoint(weights))}, weights)
    return model.eval()


def resolve_detector_weights(cfg) -> Path:
    """``DETECTOR.WEIGHTS``, else the detector trained with this config in the cache; a
    missing file is a ``FileNotFoundError`` naming the key."""
    weights = cfg.DETECTOR.WEIGHTS
    if not weights:
        out = detector_output_dir(cfg)
        final = out / "model_final.pth"
        if not final.is_file():
            raise FileNotFoundError(f"no trained detector at {final} (DETECTOR.WEIGHTS is "
                                    f"empty: {explain_missing_detector(cfg)}); train one with "
                                    f"--task detector")
        weights = final
    weights = Path(weights)
    if not weights.is_file():
        raise FileNotFoundError(f"config key DETECTOR.WEIGHTS: no file {weights}")
    return weights


def detector_class_counts(cfg, weights: Path, num_classes: int = 0,
                          num_mask_classes: int = 0) -> Tuple[int, int]:
    """``(C, K)`` of the detector at ``weights``: from the config, the arguments, the
    checkpoint folder's ``detector_meta.json``, or the datasets, in that order."""
    c = cfg.MODEL.ROI_HEADS.NUM_CLASSES or num_classes
    k = (cfg.MODEL.ROI_HEADS.MASK_NUM_CLASSES or num_mask_classes) if cfg.MODEL.MASK_ON else 0
    meta_file = Path(weights).parent / "detector_meta.json"
    if (not c or (cfg.MODEL.MASK_ON and not k)) and meta_file.is_file():
        meta = json.loads(meta_file.read_text())
        c = c or meta["num_classes"]
        k = k or (meta["num_mask_classes"] if cfg.MODEL.MASK_ON else 0)
    if not c or (cfg.MODEL.MASK_ON and not k):
        ds = build_detector_datasets(cfg, ("vg_test", "coco_val"))
        c, k = class_counts(cfg, {"vg": ds["vg_test"], "coco": ds.get("coco_val")})
    return c, k


def build_detector_from_config(cfg, num_classes: int = 0, num_mask_classes: int = 0):
    """The frozen :class:`~pyg_sgg.detection.torchvision_backend.TorchvisionDetector` (or,
    with ``DETECTOR.NAME detectron2``, the
    :class:`~pyg_sgg.detection.detectron2_backend.Detectron2Detector`).

    Uses ``DETECTOR.WEIGHTS`` when set; else the detector trained with this config under
    :func:`detector_output_dir` (:func:`pyg_sgg.engine.detector_training.ensure_detector`
    trains it when missing).
    Class counts (without background) come from the config, the checkpoint folder's
    ``detector_meta.json``, the arguments, or the datasets, in that order.
    """
    from pyg_sgg.detection.torchvision_backend import TorchvisionDetector
    if cfg.DETECTOR.NAME.lower() == "detectron2":
        from pyg_sgg.detection.detectron2_backend import require_detectron2
        require_detectron2()
        from pyg_sgg.detection.detectron2_backend.detector import \
            build_detectron2_detector
        return build_detectron2_detector(cfg, num_classes, num_mask_classes)
    weights = resolve_detector_weights(cfg)
    c, k = detector_class_counts(cfg, weights, num_classes, num_mask_classes)
    model = load_detector_model(cfg, weights, c, k)
    return TorchvisionDetector(model, detections_per_img=cfg.TEST.DETECTIONS_PER_IMAGE)
