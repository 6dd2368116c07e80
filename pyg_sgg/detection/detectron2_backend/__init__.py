"""The detectron2 detector backend (``DETECTOR.NAME detectron2``), imported lazily.

Importing this package does not import detectron2; its modules do. Without detectron2,
:func:`require_detectron2` raises one line with the install command.

* :mod:`.config`: :func:`add_sgg_config` (pyg_sgg's keys on a detectron2 ``get_cfg()``) and
  :func:`to_detectron2_config` (a pyg_sgg config -> the detectron2 model config);
* :mod:`.labels`: class indices between the two conventions (background first vs last);
* :mod:`.backbone`, :mod:`.roi_heads`, :mod:`.meta_arch`: the registered small CPU FPN
  backbone, ``JointROIHeads`` and ``JointGeneralizedRCNN`` (VG boxes + COCO masks);
* :mod:`.datasets`: ``DatasetCatalog`` / ``MetadataCatalog`` registration of VG / COCO;
* :mod:`.detector`: :class:`Detectron2Detector`, the :class:`~pyg_sgg.detection.base.Detector`
  the scene graph models read;
* :mod:`.weights`: model-zoo checkpoints as initial weights, torchvision <-> detectron2 weights;
* :mod:`.training`: joint training with detectron2's trainer, hooks and checkpointer.
"""
from pyg_sgg.lazy_exports import lazy_exports

INSTALL = ("the detectron2 backend needs detectron2, which is on no package index: build it "
           "from a copy of https://github.com/facebookresearch/detectron2 with "
           "`pip install --no-build-isolation <that folder>` (after torch), or use "
           "DETECTOR.NAME torchvision")


def require_detectron2():
    """Import detectron2 or raise ``ImportError`` whose message says how to install it."""
    try:
        import detectron2  # noqa: F401
    except ImportError as e:
        raise ImportError(INSTALL) from e
    return detectron2


__getattr__, __dir__ = lazy_exports(__name__, {
    "add_sgg_config": ".config", "to_detectron2_config": ".config",
    "Detectron2Detector": ".detector", "build_detectron2_detector": ".detector",
    "train_detectron2_detector": ".training"})
__all__ = ["INSTALL", "require_detectron2", "add_sgg_config", "to_detectron2_config",
           "Detectron2Detector", "build_detectron2_detector", "train_detectron2_detector"]
