"""The key of a trained detector in the cache: every config key that changes the detector plus
the *content* of the annotation files it trains on (never a path or a time), so a copied or
moved cache (``cp -r``, another ``PYG_SGG_CACHE``) is reused, and a changed file is not.

``<cache_dir>/detectors/<hash>/cache_key.json`` records the key; when no detector exists for
a config, :func:`explain_missing_detector` names what differs from the closest cached one.
"""
import hashlib
import json
from pathlib import Path
from typing import Any, Dict

from ..paths import cache_dir, file_fingerprint
from .config import DETECTOR_MODEL_NODES

__all__ = ["detector_cache_key", "detector_config_hash", "detector_output_dir",
           "explain_missing_detector", "training_threads", "write_cache_key", "KEY_FILE"]

KEY_FILE = "cache_key.json"
_PATH_KEYS = {"ROOT", "H5_FILE", "DICTS_FILE", "IMAGE_DATA_FILE", "IMAGE_DIR",
              "TRAIN_ANNOTATIONS", "VAL_ANNOTATIONS"}
#: Guard keys that change the trained weights only when they act (a step is skipped): left
#: out of the key at "stop", so adding them kept every cached detector valid.
_NONFINITE = "DETECTOR.SOLVER.NONFINITE"
_MAX_SKIPPED = "DETECTOR.SOLVER.MAX_SKIPPED_STEPS"


#: The thread count of the detectors cached before it was part of the key (the main job's).
REFERENCE_THREADS = 2


def training_threads(cfg) -> int:
    """The threads the detector of ``cfg`` trains on: ``DETECTOR.NUM_THREADS``, or torch's
    current count when that is 0."""
    import torch
    return int(cfg.DETECTOR.NUM_THREADS) or torch.get_num_threads()


def _plain(node) -> Any:
    if hasattr(node, "items"):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    return node


def detector_cache_key(cfg) -> Dict[str, Any]:
    """The flat ``{"MODEL.RPN.NMS_THRESH": 0.7, ..., "files.vg_h5": "<content hash>"}`` that
    identifies the detector ``cfg`` trains (the SynthVG files are generated if absent)."""
    from ..data.roots import coco_paths, vg_paths, vg_root
    nodes = {f"MODEL.{k}": cfg.MODEL[k] for k in DETECTOR_MODEL_NODES if k in cfg.MODEL}
    nodes.update({"INPUT": cfg.INPUT, "DETECTOR.SOLVER": cfg.DETECTOR.SOLVER,
                  "SEED": cfg.SEED, "TEST.DETECTIONS_PER_IMAGE": cfg.TEST.DETECTIONS_PER_IMAGE,
                  "DATASETS.VG": {k: v for k, v in cfg.DATASETS.VG.items()
                                  if k not in _PATH_KEYS}})
    key: Dict[str, Any] = {}

    def flatten(prefix, value):
        value = _plain(value)
        if isinstance(value, dict):
            for k, v in value.items():
                flatten(f"{prefix}.{k}", v)
        else:
            key[prefix] = value

    for name, value in nodes.items():
        flatten(name, value)
    if str(key.get(_NONFINITE, "stop")).lower() == "stop":
        key.pop(_NONFINITE, None)
        key.pop(_MAX_SKIPPED, None)
    # backend keys only where they differ from the torchvision default: cached torchvision
    # detectors keep their keys
    d = cfg.DETECTOR
    if d.NAME.lower() != "torchvision":
        key["DETECTOR.NAME"] = d.NAME.lower()
        key["DETECTOR.DETECTRON2.OPTS"] = [str(v) for v in d.DETECTRON2.OPTS]
    threads = training_threads(cfg)
    if threads != REFERENCE_THREADS:  # keys of two-thread detectors stay as they were
        key["DETECTOR.NUM_THREADS"] = threads
    if d.INIT_WEIGHTS:
        init = Path(d.INIT_WEIGHTS).expanduser()
        key["DETECTOR.INIT_WEIGHTS"] = file_fingerprint(init) if init.is_file() else "missing"
    root = vg_root(cfg)
    vg = vg_paths(cfg, root)
    files = {"vg_h5": vg["H5_FILE"], "vg_dicts": vg["DICTS_FILE"]}
    if cfg.MODEL.MASK_ON:
        files["coco_train"] = coco_paths(cfg, root)["TRAIN_ANNOTATIONS"]
    for name, path in files.items():
        key[f"files.{name}"] = file_fingerprint(path) if path.is_file() else "missing"
    return key


def _hash(key: Dict[str, Any]) -> str:
    text = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def detector_config_hash(cfg) -> str:
    """12 hex digits of :func:`detector_cache_key`."""
    return _hash(detector_cache_key(cfg))


def detector_output_dir(cfg) -> Path:
    """``DETECTOR.OUTPUT_DIR``, else ``<cache_dir>/detectors/<detector_config_hash>``."""
    if cfg.DETECTOR.OUTPUT_DIR:
        return Path(cfg.DETECTOR.OUTPUT_DIR).expanduser()
    return cache_dir() / "detectors" / detector_config_hash(cfg)


def explain_missing_detector(cfg) -> str:
    """Why no cached detector fits ``cfg``: the keys in which the closest cached one differs
    (``"differs from <dir> in SOLVER.MAX_ITER (600 -> 300)"``), or that none is cached."""
    key = detector_cache_key(cfg)
    best = None
    for f in sorted((cache_dir() / "detectors").glob(f"*/{KEY_FILE}")):
        if not (f.parent / "model_final.pth").is_file():
            continue
        try:
            other = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        diff = sorted(k for k in set(key) | set(other) if key.get(k) != other.get(k))
        if best is None or len(diff) < len(best[1]):
            best = (f.parent, diff, other)
    if best is None:
        return "no detector is cached yet"
    folder, diff, other = best
    shown = ", ".join(f"{k} ({other.get(k)!r} -> {key.get(k)!r})" for k in diff[:4])
    more = f" and {len(diff) - 4} more" if len(diff) > 4 else ""
    return f"the closest cached detector ({folder.name}) differs in {shown}{more}"


def write_cache_key(cfg, output_dir: Path) -> None:
    """Record :func:`detector_cache_key` in ``output_dir`` (atomically)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    tmp = output_dir / f".{KEY_FILE}.tmp"
    tmp.write_text(json.dumps(detector_cache_key(cfg), indent=1, sort_keys=True, default=str))
    tmp.replace(output_dir / KEY_FILE)
