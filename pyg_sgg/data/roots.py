"""The dataset folders and files a config names: ``DATASETS.VG`` (or the embedded SynthVG when
its ``ROOT`` is empty) and ``DATASETS.COCO`` (beside the VG files when its ``ROOT`` is empty).
The one resolver used by the relation pipeline, the detector and the config checks."""
from pathlib import Path
from typing import Dict

__all__ = ["VG_FILE_KEYS", "COCO_FILE_KEYS", "vg_root", "vg_paths", "coco_paths"]

#: ``DATASETS.VG`` keys that name a file or folder (relative to ``ROOT`` unless absolute).
VG_FILE_KEYS = ("H5_FILE", "DICTS_FILE", "IMAGE_DATA_FILE", "IMAGE_DIR")
#: ``DATASETS.COCO`` keys that name a file or folder (relative to its root).
COCO_FILE_KEYS = ("TRAIN_ANNOTATIONS", "VAL_ANNOTATIONS", "IMAGE_DIR")


def vg_root(cfg, generate: bool = True) -> Path:
    """``DATASETS.VG.ROOT``, or the SynthVG folder of ``DATASETS.SYNTHETIC`` (generated into
    the cache when absent and ``generate``)."""
    root = cfg.DATASETS.VG.ROOT
    if root:
        return Path(root).expanduser()
    from .synthvg import default_root, ensure_dataset
    syn = cfg.DATASETS.SYNTHETIC
    if not generate:
        return default_root(num_images=syn.NUM_IMAGES, seed=syn.SEED)
    return ensure_dataset(num_images=syn.NUM_IMAGES, seed=syn.SEED)


def _under(root: Path, name: str) -> Path:
    p = Path(name).expanduser()
    return p if p.is_absolute() else root / p


def vg_paths(cfg, root: Path) -> Dict[str, Path]:
    """``{key: path}`` of :data:`VG_FILE_KEYS` under the VG ``root``."""
    return {k: _under(root, cfg.DATASETS.VG[k]) for k in VG_FILE_KEYS}


def coco_paths(cfg, vg_root_: Path) -> Dict[str, Path]:
    """``{key: path}`` of :data:`COCO_FILE_KEYS` under ``DATASETS.COCO.ROOT`` (default: the
    VG root, where SynthCOCO lives)."""
    co = cfg.DATASETS.COCO
    root = Path(co.ROOT).expanduser() if co.ROOT else vg_root_
    return {k: _under(root, co[k]) for k in COCO_FILE_KEYS}
