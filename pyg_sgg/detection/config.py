"""Detector config keys (no torch import: a config is built and checked in milliseconds).

Keys follow detectron2's names where they exist (``MODEL.MASK_ON``, ``MODEL.RPN.*``,
``MODEL.ROI_HEADS.*``, ``MODEL.ROI_BOX_HEAD.*``, ``MODEL.ROI_MASK_HEAD.*``,
``MODEL.ANCHOR_GENERATOR.*``, ``TEST.DETECTIONS_PER_IMAGE``); the detector's own training
schedule and cache settings live under ``DETECTOR.*``. Image sizes are the global
``INPUT.*`` keys (0 = keep the native size). Datasets are the global ``DATASETS.VG`` /
``DATASETS.COCO`` / ``DATASETS.SYNTHETIC`` keys.

The builders are in :mod:`pyg_sgg.detection.build`, the detector cache key in
:mod:`pyg_sgg.detection.cache_key`.
"""
__all__ = ["add_detector_config", "DETECTOR_MODEL_NODES", "BACKENDS"]

#: The ``cfg.MODEL`` nodes that shape the detector (they key its cache).
DETECTOR_MODEL_NODES = ("MASK_ON", "BACKBONE", "FPN", "RESNETS", "PIXEL_MEAN", "PIXEL_STD",
                        "ANCHOR_GENERATOR", "RPN", "ROI_HEADS", "ROI_BOX_HEAD",
                        "ROI_MASK_HEAD")
#: ``DETECTOR.NAME`` choices.
BACKENDS = ("torchvision", "detectron2")
#: ``MODEL.BACKBONE.NAME`` choices.
BACKBONES = ("small_conv_fpn", "resnet_fpn")


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
    # Detector backend: "torchvision" (default) or "detectron2" (optional; built locally, see
    # the README's "Detectron2 backend"). Both read the MODEL.* / INPUT.* keys above.
    d.NAME = "torchvision"
    # Initial weights of detector training (--task detector, or the main job training its
    # detector): a checkpoint of this detector, or with detectron2 any checkpoint its
    # DetectionCheckpointer reads, e.g. a model-zoo COCO Mask R-CNN .pkl (its COCO box
    # predictor and mask head become the COCO branch, as in Seg-SG). "" = random init.
    d.INIT_WEIGHTS = ""
    d.DETECTRON2 = CN()
    # detectron2 config keys with no pyg_sgg counterpart, as KEY VALUE strings applied last,
    # e.g. ["MODEL.RESNETS.NUM_GROUPS", "32", "MODEL.ROI_BOX_HEAD.POOLER_TYPE", "ROIAlign"].
    d.DETECTRON2.OPTS = []
    # Detector checkpoint (.pth with a "model" state dict, as written by detector training).
    # "" = train one with this config (once; cached under <cache_dir>/detectors) and reuse it.
    d.WEIGHTS = ""
    # Where detector training writes checkpoints; "" = <cache_dir>/detectors/<config hash>.
    d.OUTPUT_DIR = ""
    # Evaluate after training (box AP on VG test, mask AP on COCO val).
    d.EVAL_AFTER_TRAIN = True
    # Cache RoI / union features of the frozen detector per (weights, split, mode) on disk.
    d.FEATURE_CACHE = True
    # MODEL.SGG.FEATURES trainable: cache the frozen backbone's FPN maps per image (memory-
    # mapped; SynthVG ≈ 0.16 MB per image in float16) instead of recomputing them for every
    # batch. Real VG150 on R-50-FPN needs ≈ 25 MB per image: set False there.
    d.FEATURE_MAP_CACHE = True
    # Storage dtype of cached features and maps: "float16" or "float32".
    d.FEATURE_DTYPE = "float16"
    # Also cache per-class mask logits [N, K, 28, 28] (large).
    d.CACHE_MASKS = False
    # Threads for detector training. The trained weights depend on it (a CPU's float sums run
    # in another order on another number of threads), so it is fixed by default and a count
    # other than 2 is part of the detector's cache key: whoever trains it first (a grid
    # worker limited to one thread, the main job on two), a cached detector is the same one.
    # 0 = torch's current count (recorded in the key too).
    d.NUM_THREADS = 2
    # COCO images per iteration beside the SOLVER.IMS_PER_BATCH VG images (0 = the same
    # number); unused when MODEL.MASK_ON is False.
    d.COCO_IMS_PER_BATCH = 0
    # The detector's schedule: every key of SOLVER (same meaning, see pyg_sgg.config.defaults),
    # with the small CPU detector's defaults; trained by the same engine (checkpoints, resume).
    d.SOLVER = _detector_solver(cfg.SOLVER) if "SOLVER" in cfg else CN()
    return cfg


def _detector_solver(solver):
    """``cfg.SOLVER``'s schema with the detector's defaults (Seg-SG stage 1, CPU-sized)."""
    d = solver.clone()
    d.OPTIMIZER = "SGD"
    d.BASE_LR = 0.02
    d.MOMENTUM = 0.9
    d.WEIGHT_DECAY = 1e-4
    # Iterations; each takes IMS_PER_BATCH VG images and DETECTOR.COCO_IMS_PER_BATCH COCO ones.
    d.MAX_ITER = 600
    d.IMS_PER_BATCH = 4
    d.LR_SCHEDULER_NAME = "WarmupCosineLR"
    d.STEPS = ()
    d.GAMMA = 0.1
    d.WARMUP_ITERS = 100
    d.WARMUP_FACTOR = 0.001
    d.WARMUP_METHOD = "linear"
    d.CHECKPOINT_PERIOD = 250
    d.MAX_TO_KEEP = 2
    d.LOG_PERIOD = 20
    # torchvision's detection recipes do not clip gradients
    d.CLIP_GRADIENTS.ENABLED = False
    d.AMP.ENABLED = False
    return d
