"""Every config key of pyg_sgg with its default, commented (Detectron2 names where they exist).

:func:`get_cfg` returns a fresh copy of these defaults extended by the ``add_*_config``
functions of the model, detector and method packages (each adds its own node), so that a
YAML file or a ``KEY VALUE`` override naming a key that nobody defined fails.
"""
import importlib

from .config import CfgNode as CN

__all__ = ["get_cfg", "EXTENSIONS"]

_C = CN()
# Config format version (bumped when keys are renamed).
_C.VERSION = 1

# ---------------------------------------------------------------------------------------
# MODEL: the scene graph model; sub-nodes are added by pyg_sgg.models / pyg_sgg.detection.
# ---------------------------------------------------------------------------------------
_C.MODEL = CN()
# "cpu", "cuda" or "cuda:N"; "" picks cuda when available, else cpu.
_C.MODEL.DEVICE = ""
# Checkpoint (.pth) to initialise the model from before training ("" = none). With
# --resume the last checkpoint in OUTPUT_DIR takes precedence.
_C.MODEL.WEIGHTS = ""
# Wrap the model with find_unused_parameters=True under DDP (needed when some heads are
# unused in a task, e.g. the object classifier in PredCls).
_C.MODEL.DDP_FIND_UNUSED_PARAMETERS = True

# ---------------------------------------------------------------------------------------
# DATASETS
# ---------------------------------------------------------------------------------------
_C.DATASETS = CN()
# Dataset splits to train on / evaluate periodically on / test on, as "<dataset>_<split>":
# dataset "VG" (VG150 format files, the embedded SynthVG by default), split train|val|test.
_C.DATASETS.TRAIN = ("VG_train",)
# Split used for the periodic evaluation during training (best checkpoint, plateau LR).
_C.DATASETS.VAL = ("VG_val",)
_C.DATASETS.TEST = ("VG_test",)
# VG150 files (Tang / neural-motifs format). Relative paths are relative to ROOT.
_C.DATASETS.VG = CN()
# Folder holding the VG files; "" = the embedded SynthVG, generated into the cache on first use.
_C.DATASETS.VG.ROOT = ""
# Box/label/relation h5 file.
_C.DATASETS.VG.H5_FILE = "VG-SGG-with-attri.h5"
# Class-name dictionaries (label_to_idx, predicate_to_idx, ...).
_C.DATASETS.VG.DICTS_FILE = "VG-SGG-dicts-with-attri.json"
# Per-image metadata (width, height, image_id, url).
_C.DATASETS.VG.IMAGE_DATA_FILE = "image_data.json"
# Folder of <image_id>.jpg images.
_C.DATASETS.VG.IMAGE_DIR = "images"
# First N training images held out as the validation split (VG150 / Tang: 5000; the
# SynthVG default of 4000 images has ~2800 training images).
_C.DATASETS.VG.NUM_VAL_IMAGES = 300
# Training-split filters, as in Tang's VGDataset.
_C.DATASETS.VG.FILTER_EMPTY_RELS = True
_C.DATASETS.VG.FILTER_DUPLICATE_RELS = True
# Drop training relations whose boxes do not intersect. As SGB (paths_catalog.py), it only
# applies to SGDet with MODEL.SGG.REQUIRE_OVERLAP; PredCls / SGCls train on every relation
# (filtering there removes every non-overlapping predicate, e.g. "above", from training).
_C.DATASETS.VG.FILTER_NON_OVERLAP = True
# Scale at which the h5 stores boxes (boxes_1024).
_C.DATASETS.VG.BOX_SCALE = 1024
# Use only the first N images of each split (-1 = all); for quick runs.
_C.DATASETS.VG.NUM_IMAGES = -1
# Train on a random fraction of the training images (after the val images are taken), drawn
# with TRAIN_SUBSET_SEED, the same for every method and SEED: data-efficiency studies.
_C.DATASETS.VG.TRAIN_FRACTION = 1.0
_C.DATASETS.VG.TRAIN_SUBSET_SEED = 0
# COCO-format instance masks (Seg-SG's mask source). Relative paths are relative to ROOT.
_C.DATASETS.COCO = CN()
# Folder; "" = the SynthCOCO part of the embedded dataset.
_C.DATASETS.COCO.ROOT = ""
_C.DATASETS.COCO.TRAIN_ANNOTATIONS = "coco/annotations/instances_train.json"
_C.DATASETS.COCO.VAL_ANNOTATIONS = "coco/annotations/instances_val.json"
_C.DATASETS.COCO.IMAGE_DIR = "coco/images"
# The embedded SynthVG/SynthCOCO generator (used when DATASETS.VG.ROOT is "").
_C.DATASETS.SYNTHETIC = CN()
# Number of generated images (train + val + test).
_C.DATASETS.SYNTHETIC.NUM_IMAGES = 4000
# Generator seed; a different seed is a different dataset (cached separately).
_C.DATASETS.SYNTHETIC.SEED = 0

# ---------------------------------------------------------------------------------------
# DATALOADER
# ---------------------------------------------------------------------------------------
_C.DATALOADER = CN()
# Worker processes per data loader. Bit-identical --resume is guaranteed with 0.
_C.DATALOADER.NUM_WORKERS = 0
# Shuffle the training set (a fresh permutation per epoch, from SEED).
_C.DATALOADER.SHUFFLE = True

# ---------------------------------------------------------------------------------------
# INPUT: image resizing for the detector. 0 keeps the native size (the small SynthVG
# images); VG150 configs use Tang's 600 / 1000 (detectron_configs/Base-VG150.yaml).
# ---------------------------------------------------------------------------------------
_C.INPUT = CN()
# Shorter-side size(s) in training; one is sampled per image when several are given.
_C.INPUT.MIN_SIZE_TRAIN = (0,)
# Longer-side cap in training.
_C.INPUT.MAX_SIZE_TRAIN = 1000
# Shorter-side size at test time.
_C.INPUT.MIN_SIZE_TEST = 0
# Longer-side cap at test time.
_C.INPUT.MAX_SIZE_TEST = 1000
# Horizontal flip in detector training: "none" or "horizontal" (label-safe on VG150).
_C.INPUT.RANDOM_FLIP = "none"

# ---------------------------------------------------------------------------------------
# SOLVER (defaults: a CPU-sized schedule for SynthVG; VG150 / SGB values are in
# detectron_configs/Base-VG150.yaml)
# ---------------------------------------------------------------------------------------
_C.SOLVER = CN()
# "SGD" (momentum), "Adam" or "AdamW". Adam at 1e-3 trains the relation model in the ~1000
# iterations of a CPU run (as Base-SGG.yaml); datasets/VG150.yaml sets SGB's SGD at 0.01.
_C.SOLVER.OPTIMIZER = "Adam"
# Base learning rate (for IMS_PER_BATCH images per iteration, all processes together).
_C.SOLVER.BASE_LR = 0.001
# SGD momentum (Adam: beta1).
_C.SOLVER.MOMENTUM = 0.9
# L2 weight decay.
_C.SOLVER.WEIGHT_DECAY = 1e-4
# Total training iterations (methods with stages, e.g. HML, derive their stage lengths).
_C.SOLVER.MAX_ITER = 1000
# "WarmupMultiStepLR" (decay by GAMMA at STEPS), "WarmupCosineLR" (half cosine to 0 at
# MAX_ITER) or "WarmupReduceLROnPlateau" (decay by GAMMA when TEST.BEST_METRIC has not
# improved for PLATEAU.PATIENCE evaluations).
_C.SOLVER.LR_SCHEDULER_NAME = "WarmupMultiStepLR"
# Iterations at which WarmupMultiStepLR multiplies the learning rate by GAMMA.
_C.SOLVER.STEPS = (600, 850)
# Learning-rate decay factor.
_C.SOLVER.GAMMA = 0.1
# Warm-up length in iterations (0 = none).
_C.SOLVER.WARMUP_ITERS = 100
# Learning-rate factor at iteration 0 of the warm-up.
_C.SOLVER.WARMUP_FACTOR = 0.1
# "linear" or "constant" warm-up.
_C.SOLVER.WARMUP_METHOD = "linear"
# WarmupReduceLROnPlateau settings (SGB defaults).
_C.SOLVER.PLATEAU = CN()
# Evaluations without improvement before a decay.
_C.SOLVER.PLATEAU.PATIENCE = 2
# Evaluations to wait after a decay before counting again.
_C.SOLVER.PLATEAU.COOLDOWN = 0
# Minimum improvement that counts as one.
_C.SOLVER.PLATEAU.THRESHOLD = 1e-4
# Stop decaying after this many decays.
_C.SOLVER.PLATEAU.MAX_DECAYS = 3
# Save a checkpoint every N iterations (and always at the end).
_C.SOLVER.CHECKPOINT_PERIOD = 250
# A NaN / inf loss or gradient: "stop" the run with one line naming the loss (or parameter),
# the iteration and the last checkpoint; or "skip" the step (no optimiser update; logged),
# stopping after MAX_SKIPPED_STEPS consecutive skips.
_C.SOLVER.NONFINITE = "stop"
_C.SOLVER.MAX_SKIPPED_STEPS = 10
# Number of periodic checkpoints kept on disk (last and best are always kept).
_C.SOLVER.MAX_TO_KEEP = 2
# Images per iteration over all processes (each of W processes takes IMS_PER_BATCH / W).
_C.SOLVER.IMS_PER_BATCH = 8
# Log training metrics every N iterations (metrics.json + TensorBoard).
_C.SOLVER.LOG_PERIOD = 20
# Gradient clipping, applied separately to each optimiser's parameters.
_C.SOLVER.CLIP_GRADIENTS = CN()
_C.SOLVER.CLIP_GRADIENTS.ENABLED = True
# "norm" (clip the total norm) or "value" (clamp each element).
_C.SOLVER.CLIP_GRADIENTS.CLIP_TYPE = "norm"
# Maximum norm / absolute value (SGB/EBM GRAD_NORM_CLIP: 5.0).
_C.SOLVER.CLIP_GRADIENTS.CLIP_VALUE = 5.0
# p of the p-norm for CLIP_TYPE "norm".
_C.SOLVER.CLIP_GRADIENTS.NORM_TYPE = 2.0
# Mixed precision: bf16 autocast on CPU, fp16 autocast + gradient scaling on CUDA.
_C.SOLVER.AMP = CN()
_C.SOLVER.AMP.ENABLED = False

# ---------------------------------------------------------------------------------------
# TEST
# ---------------------------------------------------------------------------------------
_C.TEST = CN()
# Evaluate on DATASETS.VAL every N iterations (0 = only at the end).
_C.TEST.EVAL_PERIOD = 250
# K of the R@K / mR@K family.
_C.TEST.KS = (20, 50, 100)
# Images per inference batch (over all processes).
_C.TEST.IMS_PER_BATCH = 8
# Metric that picks model_best.pth and drives WarmupReduceLROnPlateau (a key of the
# evaluator's result dict, e.g. "R@100", "mR@100").
_C.TEST.BEST_METRIC = "R@100"
# "max" if larger BEST_METRIC is better, else "min".
_C.TEST.BEST_MODE = "max"

# ---------------------------------------------------------------------------------------
# SGG: scene-graph-generation settings that are not the model's or a method's own.
# ---------------------------------------------------------------------------------------
_C.SGG = CN()
# "predcls" (GT boxes + labels), "sgcls" (GT boxes) or "sgdet" (detected boxes).
_C.SGG.TASK = "predcls"
# Training framework(s) from METHOD_REGISTRY, combined with "+" (e.g. "hml+ebm").
_C.SGG.METHOD = "ce"

# Where logs, checkpoints and the resolved config go; "" = <cache_dir>/runs/<task>_<method>.
_C.OUTPUT_DIR = ""
# Global seed (python, numpy, torch, data order); each process adds its rank.
_C.SEED = 0
# Let cuDNN pick the fastest kernels (non-deterministic).
_C.CUDNN_BENCHMARK = False

#: ``(module, function)`` of every config extension, called by :func:`get_cfg`.
EXTENSIONS = (
    ("pyg_sgg.models.config", "add_sgg_model_config"),
    ("pyg_sgg.detection.config", "add_detector_config"),
    ("pyg_sgg.methods.ebm_config", "add_ebm_config"),
    ("pyg_sgg.methods.hml_config", "add_hml_config"),
    ("pyg_sgg.methods.plugin_loss_config", "add_plugin_loss_config"),
)


def get_cfg(extensions: bool = True) -> CN:
    """A fresh, mutable copy of every default (this file's plus the extensions').

    Args:
        extensions (bool): add the model / detector / method keys (imports those packages);
            ``False`` gives only the keys of this file (fast; for tools and tests).
    """
    cfg = _C.clone()
    for module, fn in (EXTENSIONS if extensions else ()):
        getattr(importlib.import_module(module), fn)(cfg)
    return cfg
