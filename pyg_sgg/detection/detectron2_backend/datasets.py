"""VG / SynthVG (boxes) and COCO / SynthCOCO (masks) as detectron2 datasets.

The dicts are built from pyg_sgg's own readers (:class:`~pyg_sgg.data.vg.VGDataset`,
:class:`~pyg_sgg.data.coco.COCOMaskDataset`), so the files are checked, scaled and filtered
exactly as for the torchvision backend; class ids go through :mod:`.labels`.
"""
from typing import Dict, List

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode
from pycocotools import mask as mask_utils

__all__ = ["vg_dicts", "coco_dicts", "register"]


def vg_dicts(dataset) -> List[Dict]:
    """detectron2 dicts of a :class:`~pyg_sgg.data.vg.VGDataset`: every image with its boxes
    (image pixels, ``XYXY_ABS``) and ``category_id`` ``0..C-1``; empty boxes dropped."""
    out = []
    boxes, labels, ptr = dataset.all_boxes, dataset.all_labels, dataset.obj_ptr
    for i in range(len(dataset)):
        b, lab = boxes[ptr[i]:ptr[i + 1]], labels[ptr[i]:ptr[i + 1]]
        keep = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        anns = [{"bbox": [float(v) for v in bb], "bbox_mode": BoxMode.XYXY_ABS,
                 "category_id": int(c) - 1} for bb, c in zip(b[keep], lab[keep])]
        out.append({"file_name": str(dataset.image_path(i)), "image_id": int(dataset.image_ids[i]),
                    "height": int(dataset.heights[i]), "width": int(dataset.widths[i]),
                    "annotations": anns})
    return out


def _segmentation(seg):
    if isinstance(seg, dict) and isinstance(seg.get("counts"), list):  # uncompressed RLE
        return mask_utils.frPyObjects(seg, *seg["size"])
    return seg


def coco_dicts(dataset) -> List[Dict]:
    """detectron2 dicts of a :class:`~pyg_sgg.data.coco.COCOMaskDataset` (``XYWH_ABS`` boxes,
    polygons or RLE, ``iscrowd``, ``category_id`` ``0..K-1``)."""
    out = []
    for i, im in enumerate(dataset.images):
        anns = []
        for a in dataset.anns[i]:
            x, y, w, h = (float(v) for v in a["bbox"])
            if w <= 0 or h <= 0:
                continue
            anns.append({"bbox": [x, y, w, h], "bbox_mode": BoxMode.XYWH_ABS,
                         "category_id": dataset.cat_to_label[int(a["category_id"])] - 1,
                         "iscrowd": int(a.get("iscrowd", 0)),
                         "segmentation": _segmentation(a.get("segmentation", []))})
        out.append({"file_name": str(dataset.image_path(i)), "image_id": int(im["id"]),
                    "height": int(im["height"]), "width": int(im["width"]),
                    "annotations": anns})
    return out


def register(name: str, dicts: List[Dict], class_names: List[str]) -> str:
    """Register ``dicts`` as ``name`` in ``DatasetCatalog`` (replacing an earlier one) with
    ``thing_classes`` (without background) in ``MetadataCatalog``; returns ``name``."""
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    DatasetCatalog.register(name, lambda: dicts)
    MetadataCatalog.get(name).set(thing_classes=list(class_names))
    return name

