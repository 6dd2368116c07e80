"""Detector config keys and the config -> detector builders.

Keys follow detectron2's names where they exist (``MODEL.MASK_ON``, ``MODEL.RPN.*``,
``MODEL.ROI_HEADS.*``, ``MODEL.ROI_BOX_HEAD.*``, ``MODEL.ROI_MASK_HEAD.*``,
``MODEL.ANCHOR_GENERATOR.*``, ``TEST.DETECTIONS_PER_IMAGE``); the detector's own training
schedule and cache settings live under ``DETECTOR.*``. Image sizes are the global
``INPUT.*`` keys (0 = keep the native size). Datasets are the global ``DATASETS.VG`` /
``DATASETS.COCO`` / ``DATASETS.SYNTHETIC`` keys.

Entry points::

    add_detector_config(cfg)                       # adds the keys (get_cfg() calls it)
    train_detector_from_config(cfg, resume=False)  # train (+ evaluate), returns a dict
    build_detector_from_config(cfg)                # frozen TorchvisionDetector (trains and
                                                   # caches one when DETECTOR.WEIGHTS is "")
"""
import hashlib
import json
import logging
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch

from pyg_sgg.paths import cache_dir

logger = logging.getLogger(__name__)

_DETECTOR_MODEL_NODES = ("MASK_ON", "BACKBONE", "FPN", "RESNETS", "PIXEL_MEAN", "PIXEL_STD",
                         "ANCHOR_GENERATOR", "RPN", "ROI_HEADS", "ROI_BOX_HEAD",
                         "ROI_MASK_HEAD")


def _node(cfg, name):
    CN = type(cfg)
    if name not in cfg:
        cfg[name] = CN()
    return cfg[name]


def add_detector_config(cfg):
    """Add the detector keys with commented defaults to ``cfg`` (in place; returns it).

    The defaults are the small CPU detector for SynthVG / SynthCOCO; for real VG / COCO use
    ``detectron_configs/detector/vg_coco_R50_FPN.yaml``.
    """
    CN = type(cfg)
    m = _node(cfg, "MODEL")
    # Train the COCO box predictor + mask head jointly with the VG box predictor (Seg-SG);
    # False = box-only Faster R-CNN on VG (EBM / HML baselines).
    m.MASK_ON = True
    # Image normalisation, RGB, in 0..255 pixel units (torchvision / ImageNet values).
    m.PIXEL_MEAN = [123.675, 116.28, 103.53]
    m.PIXEL_STD = [58.395, 57.12, 57.375]
    m.BACKBONE = CN()
    # "small_conv_fpn" (4 conv stages + FPN, for 128-256 px images on a CPU) or
    # "resnet_fpn" (torchvision ResNet-FPN, for real images).
    m.BACKBONE.NAME = "small_conv_fpn"
    # small_conv_fpn: widths of its four stride-2 stages and 3x3 convs per stage.
    m.BACKBONE.CHANNELS = [16, 32, 64, 128]
    m.BACKBONE.DEPTHS = [1, 2, 2, 2]
    m.FPN = CN()
    # small_conv_fpn: FPN width and number of levels (coarsest ones: 2 = strides 8, 16).
    # resnet_fpn always has 256 channels and 5 levels.
    m.FPN.OUT_CHANNELS = 64
    m.FPN.NUM_LEVELS = 2
    m.RESNETS = CN()
    # resnet_fpn: ResNet depth (18, 34, 50, 101).
    m.RESNETS.DEPTH = 50
    m.ANCHOR_GENERATOR = CN()
    # Anchor sizes in pixels, one list per feature level (finest first).
    m.ANCHOR_GENERATOR.SIZES = [[8, 16, 32], [64, 128, 256]]
    # Aspect ratios (h / w), shared by all levels.
    m.ANCHOR_GENERATOR.ASPECT_RATIOS = [[0.25, 0.5, 1.0, 2.0]]
    m.RPN = CN()
    # Proposals kept per image before / after the RPN's NMS.
    m.RPN.PRE_NMS_TOPK_TRAIN = 600
    m.RPN.PRE_NMS_TOPK_TEST = 300
    m.RPN.POST_NMS_TOPK_TRAIN = 300
    m.RPN.POST_NMS_TOPK_TEST = 100
    m.RPN.NMS_THRESH = 0.7
    # Anchor IoU below the first = background, above the second = foreground.
    m.RPN.IOU_THRESHOLDS = [0.3, 0.7]
    # Anchors sampled per image for the RPN loss, and their foreground share.
    m.RPN.BATCH_SIZE_PER_IMAGE = 256
    m.RPN.POSITIVE_FRACTION = 0.5
    m.ROI_HEADS = CN()
    # VG object classes without background; 0 = from the dataset's class list.
    m.ROI_HEADS.NUM_CLASSES = 0
    # COCO classes of the COCO box predictor and mask head (Seg-SG MASK_NUM_CLASSES);
    # 0 = from the COCO dataset's class list.
    m.ROI_HEADS.MASK_NUM_CLASSES = 0
    # Proposals sampled per image for the box losses, and their foreground share.
    m.ROI_HEADS.BATCH_SIZE_PER_IMAGE = 64
    m.ROI_HEADS.POSITIVE_FRACTION = 0.25
    # Proposal IoU with a GT box that makes it foreground.
    m.ROI_HEADS.IOU_THRESHOLDS = [0.5]
    # Test: per-class score threshold and per-class NMS IoU.
    m.ROI_HEADS.SCORE_THRESH_TEST = 0.05
    m.ROI_HEADS.NMS_THRESH_TEST = 0.5
    m.ROI_BOX_HEAD = CN()
    # RoIAlign output size and samples per bin side (also used for union boxes).
    m.ROI_BOX_HEAD.POOLER_RESOLUTION = 7
    m.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO = 1
    # Width of the two-FC box head = RoI / union feature size D (batch.x, batch.edge_attr).
    m.ROI_BOX_HEAD.FC_DIM = 256
    m.ROI_MASK_HEAD = CN()
    # Mask RoIAlign size (masks are predicted at twice this size, 28 for 14).
    m.ROI_MASK_HEAD.POOLER_RESOLUTION = 14
    # Conv layers and their width in the mask head.
    m.ROI_MASK_HEAD.NUM_CONV = 2
    m.ROI_MASK_HEAD.CONV_DIM = 64
    t = _node(cfg, "TEST")
    # SGDet: detections kept per image after per-class NMS (Seg-SG SGDet uses 40).
    if "DETECTIONS_PER_IMAGE" not in t:
        t.DETECTIONS_PER_IMAGE = 50

    d = cfg.DETECTOR = CN()
    # Detector backend: "torchvision" (default) or "detectron2" (optional plugin).
    d.NAME = "torchvision"
    # Detector checkpoint (.pth with a "model" state dict, as written by detector training).
    # "" = train one with this config (once; cached under <cache_dir>/detectors) and reuse it.
    d.WEIGHTS = ""
    # Where detector training writes checkpoints; "" = <cache_dir>/detectors/<config hash>.
    d.OUTPUT_DIR = ""
    # Evaluate after training (box AP on VG test, mask AP on COCO val).
    d.EVAL_AFTER_TRAIN = True
    # Cache RoI / union features of the frozen detector per (weights, split, mode) on disk.
    d.FEATURE_CACHE = True
    # Storage dtype of cached features: "float16" or "float32".
    d.FEATURE_DTYPE = "float16"
    # Also cache per-class mask logits [N, K, 28, 28] (large).
    d.CACHE_MASKS = False
    # Threads for detector training (0 = torch's default).
    d.NUM_THREADS = 0
    d.SOLVER = CN()
    # "SGD" or "AdamW".
    d.SOLVER.OPTIMIZER = "SGD"
    d.SOLVER.BASE_LR = 0.02
    d.SOLVER.MOMENTUM = 0.9
    d.SOLVER.WEIGHT_DECAY = 1e-4
    # Iterations; each takes IMS_PER_BATCH VG images and COCO_IMS_PER_BATCH COCO images.
    d.SOLVER.MAX_ITER = 600
    d.SOLVER.IMS_PER_BATCH = 4
    # COCO images per iteration (0 = IMS_PER_BATCH); unused when MODEL.MASK_ON is False.
    d.SOLVER.COCO_IMS_PER_BATCH = 0
    # "WarmupMultiStepLR" (decay by GAMMA at STEPS) or "WarmupCosineLR".
    d.SOLVER.LR_SCHEDULER_NAME = "WarmupCosineLR"
    d.SOLVER.STEPS = []
    d.SOLVER.GAMMA = 0.1
    d.SOLVER.WARMUP_ITERS = 100
    d.SOLVER.WARMUP_FACTOR = 0.001
    # Save a checkpoint every N iterations (and at the end).
    d.SOLVER.CHECKPOINT_PERIOD = 250
    # Stop (and save) after this many seconds of training; 0 = no limit.
    d.SOLVER.MAX_TIME_S = 0.0
    return cfg


# ----------------------------------------------------------------------------- datasets
def _vg_root(cfg) -> Path:
    root = cfg.DATASETS.VG.ROOT if "DATASETS" in cfg else ""
    if root:
        return Path(root)
    from pyg_sgg.data.synthetic import ensure_dataset
    syn = cfg.DATASETS.SYNTHETIC if "DATASETS" in cfg else None
    return ensure_dataset(num_images=syn.NUM_IMAGES if syn else 4000,
                          seed=syn.SEED if syn else 0)


def build_detector_datasets(cfg, splits=("vg_train", "vg_test", "coco_train", "coco_val")
                            ) -> Dict[str, object]:
    """The detector's datasets: VG ``train`` (all train images: no validation hold-out, no
    relation filters) and ``test``; COCO ``train`` / ``val`` (only when MODEL.MASK_ON)."""
    from pyg_sgg.data.vg import VGDataset
    vg = cfg.DATASETS.VG
    root = _vg_root(cfg)
    out = {}

    def p(base, name):
        return str(Path(base) / name)

    for s in splits:
        if s.startswith("vg_"):
            out[s] = VGDataset(root, s[3:], h5_file=p(root, vg.H5_FILE),
                               dicts_file=p(root, vg.DICTS_FILE),
                               image_data_file=p(root, vg.IMAGE_DATA_FILE),
                               image_dir=p(root, vg.IMAGE_DIR), num_val_images=0,
                               filter_empty_rels=False, filter_duplicate_rels=False,
                               filter_non_overlap=False, box_scale=vg.BOX_SCALE,
                               num_images=vg.NUM_IMAGES)
        elif cfg.MODEL.MASK_ON:
            from pyg_sgg.data.coco import COCOMaskDataset
            co = cfg.DATASETS.COCO
            croot = Path(co.ROOT) if co.ROOT else root
            ann = co.TRAIN_ANNOTATIONS if s == "coco_train" else co.VAL_ANNOTATIONS
            out[s] = COCOMaskDataset(p(croot, ann), p(croot, co.IMAGE_DIR))
    return out


# ------------------------------------------------------------------------------- models
def build_detector_model(cfg, num_classes: int, num_mask_classes: int = 0):
    """:class:`JointMaskRCNN` from the config (class counts without background)."""
    from pyg_sgg.detection.backbone import SmallConvFPN, build_resnet_fpn_backbone
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


def _class_counts(cfg, datasets) -> Tuple[int, int]:
    c = cfg.MODEL.ROI_HEADS.NUM_CLASSES or len(datasets["vg"].object_classes) - 1
    k = 0
    if cfg.MODEL.MASK_ON:
        k = cfg.MODEL.ROI_HEADS.MASK_NUM_CLASSES or len(datasets["coco"].class_names) - 1
    return c, k


def detector_config_hash(cfg) -> str:
    """12 hex digits over every key that changes the trained detector."""
    parts = {k: cfg.MODEL[k] for k in _DETECTOR_MODEL_NODES if k in cfg.MODEL}
    parts.update(INPUT=cfg.INPUT, SOLVER=cfg.DETECTOR.SOLVER, SEED=cfg.get("SEED", 0),
                 VG=cfg.DATASETS.VG, COCO=cfg.DATASETS.COCO, SYN=cfg.DATASETS.SYNTHETIC,
                 DET=cfg.TEST.DETECTIONS_PER_IMAGE)
    # the data files themselves (a regenerated SynthVG at the same path is another dataset)
    root = _vg_root(cfg)
    files = [root / cfg.DATASETS.VG.H5_FILE]
    if cfg.MODEL.MASK_ON:
        croot = Path(cfg.DATASETS.COCO.ROOT) if cfg.DATASETS.COCO.ROOT else root
        files.append(croot / cfg.DATASETS.COCO.TRAIN_ANNOTATIONS)
    parts["FILES"] = [[str(f), f.stat().st_size, f.stat().st_mtime_ns] if f.is_file()
                      else [str(f)] for f in files]
    text = json.dumps(parts, sort_keys=True, default=lambda o: dict(o) if hasattr(o, "items")
                      else str(o))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def detector_output_dir(cfg) -> Path:
    if cfg.DETECTOR.OUTPUT_DIR:
        return Path(cfg.DETECTOR.OUTPUT_DIR)
    return cache_dir() / "detectors" / detector_config_hash(cfg)


def train_detector_from_config(cfg, resume: bool = False, evaluate: Optional[bool] = None,
                               progress: bool = True) -> Dict:
    """Train the detector of ``cfg`` (``python train.py --task detector``).

    Writes checkpoints to :func:`detector_output_dir` (``model_final.pth``, resumable with
    ``resume=True``), evaluates box AP on VG test and mask AP on COCO val (unless
    ``evaluate`` / ``DETECTOR.EVAL_AFTER_TRAIN`` is False) and writes ``metrics.json``.

    Returns:
        dict with ``checkpoint``, ``output_dir``, ``train_time_s``, ``iteration`` and
        ``metrics`` (``vg_test/AP50``, ``coco_val/segm/AP50``, ... in percent).
    """
    from pyg_sgg.detection.evaluation import evaluate_detector
    from pyg_sgg.detection.training import train_detector
    if cfg.DETECTOR.NAME.lower() != "torchvision":
        from pyg_sgg.detection.detectron2_backend import require_detectron2
        require_detectron2()
        raise NotImplementedError("detector training with the detectron2 backend: use "
                                  "detectron2's own tools/train_net.py")
    if cfg.DETECTOR.NUM_THREADS > 0:
        torch.set_num_threads(cfg.DETECTOR.NUM_THREADS)
    ds = build_detector_datasets(cfg)
    data = {"vg": ds["vg_train"], "coco": ds.get("coco_train")}
    c, k = _class_counts(cfg, data)
    torch.manual_seed(cfg.get("SEED", 0))
    model = build_detector_model(cfg, c, k)
    s = cfg.DETECTOR.SOLVER
    out_dir = detector_output_dir(cfg)
    flip = 0.5 if cfg.INPUT.RANDOM_FLIP == "horizontal" else 0.0
    res = train_detector(
        model, data["vg"], data["coco"], output_dir=out_dir, max_iter=s.MAX_ITER,
        ims_per_batch=s.IMS_PER_BATCH, coco_ims_per_batch=s.COCO_IMS_PER_BATCH or None,
        optimizer=s.OPTIMIZER.lower(), base_lr=s.BASE_LR, momentum=s.MOMENTUM,
        weight_decay=s.WEIGHT_DECAY,
        lr_schedule="cosine" if s.LR_SCHEDULER_NAME == "WarmupCosineLR" else "step",
        steps=s.STEPS, gamma=s.GAMMA, warmup_iters=s.WARMUP_ITERS,
        warmup_factor=s.WARMUP_FACTOR, hflip=flip, checkpoint_period=s.CHECKPOINT_PERIOD,
        resume=resume, seed=cfg.get("SEED", 0),
        num_workers=cfg.DATALOADER.NUM_WORKERS if "DATALOADER" in cfg else 0,
        progress=progress, max_time_s=s.MAX_TIME_S or None)
    res["output_dir"] = out_dir
    meta = {"num_classes": c, "num_mask_classes": k, "config_hash": detector_config_hash(cfg)}
    (out_dir / "detector_meta.json").write_text(json.dumps(meta))
    metrics = {}
    if cfg.DETECTOR.EVAL_AFTER_TRAIN if evaluate is None else evaluate:
        model.eval()
        for key, v in evaluate_detector(model, ds["vg_test"], dataset_type="vg",
                                        progress=progress).items():
            metrics[f"vg_test/{key}"] = v
        if k > 0:
            for key, v in evaluate_detector(model, ds["coco_val"], dataset_type="coco",
                                            progress=progress).items():
                metrics[f"coco_val/{key}"] = v
        metrics["train_time_s"] = res["train_time_s"]
        metrics["cpu_time_s"] = res["cpu_time_s"]
        metrics["iterations"] = res["iteration"]
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
        logger.info("detector: %s", " ".join(f"{a}={b:.1f}" for a, b in metrics.items()))
    res["metrics"] = metrics
    return res


def load_detector_model(cfg, weights, num_classes: int, num_mask_classes: int = 0):
    """:class:`JointMaskRCNN` of ``cfg`` with the ``model`` state dict of ``weights``."""
    model = build_detector_model(cfg, num_classes, num_mask_classes)
    state = torch.load(weights, map_location="cpu", weights_only=False)
    model.load_state_dict(state.get("model", state))
    return model.eval()


def build_detector_from_config(cfg, train_if_missing: bool = True, num_classes: int = 0,
                               num_mask_classes: int = 0):
    """The frozen :class:`~pyg_sgg.detection.torchvision_backend.TorchvisionDetector`.

    Uses ``DETECTOR.WEIGHTS`` when set; else the detector trained with this config under
    :func:`detector_output_dir` (trained now when missing and ``train_if_missing``).
    Class counts (without background) come from the config, the checkpoint folder's
    ``detector_meta.json``, the arguments, or the datasets, in that order.
    """
    from pyg_sgg.detection.torchvision_backend import TorchvisionDetector
    if cfg.DETECTOR.NAME.lower() == "detectron2":
        from pyg_sgg.detection.detectron2_backend import build_detectron2_detector
        return build_detectron2_detector(cfg)
    weights = cfg.DETECTOR.WEIGHTS
    if not weights:
        out = detector_output_dir(cfg)
        final = out / "model_final.pth"
        if not final.is_file():
            if not train_if_missing:
                raise FileNotFoundError(f"no trained detector at {final} (DETECTOR.WEIGHTS "
                                        f"is empty); train one with --task detector")
            logger.info("no detector weights given: training the detector into %s", out)
            train_detector_from_config(cfg, resume=True)
        weights = final
    weights = Path(weights)
    if not weights.is_file():
        raise FileNotFoundError(f"config key DETECTOR.WEIGHTS: no file {weights}")
    c = cfg.MODEL.ROI_HEADS.NUM_CLASSES or num_classes
    k = (cfg.MODEL.ROI_HEADS.MASK_NUM_CLASSES or num_mask_classes) if cfg.MODEL.MASK_ON else 0
    meta_file = weights.parent / "detector_meta.json"
    if (not c or (cfg.MODEL.MASK_ON and not k)) and meta_file.is_file():
        meta = json.loads(meta_file.read_text())
        c, k = c or meta["num_classes"], k or (meta["num_mask_classes"] if cfg.MODEL.MASK_ON
                                              else 0)
    if not c or (cfg.MODEL.MASK_ON and not k):
        ds = build_detector_datasets(cfg, ("vg_test", "coco_val"))
        c, k = _class_counts(cfg, {"vg": ds["vg_test"], "coco": ds.get("coco_val")})
    model = load_detector_model(cfg, weights, c, k)
    return TorchvisionDetector(model, detections_per_img=cfg.TEST.DETECTIONS_PER_IMAGE)
