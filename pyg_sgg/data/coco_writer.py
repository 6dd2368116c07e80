"""Write instance annotations in the standard COCO ``instances_*.json`` format.

Each annotation has ``id`` (1-based), ``image_id``, ``category_id``, ``bbox`` ``[x, y, w, h]``
(from xyxy: ``w = x2 - x1``), ``area`` (mask pixels, or box area without a mask),
``iscrowd`` 0 and ``segmentation``: an RLE ``{"size": [H, W], "counts": str}`` encoded with
``pycocotools.mask.encode`` when ``masks`` are given, the given polygons when ``polygons``
are given, else the box as a 4-corner polygon. Categories are ``1..K`` in ``class_names``
order (real COCO ids need not be contiguous; :class:`~pyg_sgg.data.coco.COCOMaskDataset`
maps any ids to ``1..K``).
"""
import json
import os
from pathlib import Path
from typing import List, Sequence, Union

import numpy as np

__all__ = ["write_coco_instances", "encode_mask"]


def encode_mask(mask: np.ndarray) -> dict:
    """``[H, W]`` binary mask -> COCO RLE dict with ``counts`` as ``str`` (JSON-safe)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def write_coco_instances(json_path: Union[str, os.PathLike], images: List[dict],
                         class_names: Sequence[str]) -> Path:
    """Write a COCO instances json.

    Args:
        json_path: output file (parent folders created).
        images: one dict per image with ``id`` (int), ``file_name``, ``width``, ``height``,
            ``boxes`` float ``[N, 4]`` xyxy pixels, ``labels`` int ``[N]`` in ``1..K``, and
            optionally ``masks`` uint8 ``[N, H, W]`` or ``polygons`` (per instance a list of
            flat ``[x0, y0, x1, y1, ...]`` polygons).
        class_names: ``["__background__", name_1, ..., name_K]``.

    Returns:
        Path: ``json_path``.
    """
    from pycocotools import mask as mask_utils

    if len(class_names) == 0 or class_names[0] != "__background__":
        raise ValueError("write_coco_instances: class_names must start with '__background__'")
    num_classes = len(class_names) - 1
    out_images, anns = [], []
    for im in images:
        iid = int(im["id"])
        w, h = int(im["width"]), int(im["height"])
        out_images.append({"id": iid, "file_name": str(im["file_name"]), "width": w,
                           "height": h})
        boxes = np.asarray(im["boxes"], dtype=np.float64).reshape(-1, 4)
        labels = np.asarray(im["labels"], dtype=np.int64).reshape(-1)
        n = boxes.shape[0]
        if labels.shape[0] != n:
            raise ValueError(f"write_coco_instances: image {iid}: {labels.shape[0]} labels "
                             f"for {n} boxes")
        if n and (labels.min() < 1 or labels.max() > num_classes):
            raise ValueError(f"write_coco_instances: image {iid}: labels outside "
                             f"1..{num_classes}")
        masks = im.get("masks")
        polygons = im.get("polygons")
        if masks is not None:
            masks = np.asarray(masks, dtype=np.uint8).reshape(-1, h, w)
            if masks.shape[0] != n:
                raise ValueError(f"write_coco_instances: image {iid}: {masks.shape[0]} masks "
                                 f"for {n} boxes")
        if polygons is not None and len(polygons) != n:
            raise ValueError(f"write_coco_instances: image {iid}: {len(polygons)} polygons "
                             f"for {n} boxes")
        for k in range(n):
            x1, y1, x2, y2 = (float(v) for v in boxes[k])
            if masks is not None:
                seg = encode_mask(masks[k])
                area = float(mask_utils.area(seg))
            elif polygons is not None:
                seg = [list(map(float, p)) for p in polygons[k]]
                rles = mask_utils.frPyObjects(seg, h, w)
                area = float(mask_utils.area(mask_utils.merge(rles)))
            else:
                seg = [[x1, y1, x2, y1, x2, y2, x1, y2]]
                area = (x2 - x1) * (y2 - y1)
            anns.append({"id": len(anns) + 1, "image_id": iid,
                         "category_id": int(labels[k]),
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": area,
                         "iscrowd": 0, "segmentation": seg})
    data = {
        "info": {"description": "written by pyg_sgg.data.coco_writer"},
        "licenses": [],
        "images": out_images,
        "annotations": anns,
        "categories": [{"id": i, "name": n, "supercategory": "object"}
                       for i, n in enumerate(class_names) if i > 0],
    }
    path = Path(json_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f)
    return path
