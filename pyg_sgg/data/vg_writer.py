"""Write a scene-graph dataset in the VG150 (Neural-Motifs / SGB) file format.

Three files are written into ``out_dir``, exactly as the real VG150 release lays them out:

* ``VG-SGG-with-attri.h5``: per image ``split`` (0 train, 2 test), ``img_to_first_box``,
  ``img_to_last_box``, ``img_to_first_rel``, ``img_to_last_rel`` (inclusive ranges, -1 when
  empty); per box ``labels [N, 1]``, ``boxes_1024`` / ``boxes_512`` ``[N, 4]`` int32
  ``(cx, cy, w, h)`` at that scale of the image's longer side, ``attributes [N, 10]`` (zeros),
  ``active_object_mask [N, 1]``; per relation ``relationships [R, 2]`` (GLOBAL box indices,
  subject, object) and ``predicates [R, 1]``.
* ``VG-SGG-dicts-with-attri.json``: ``label_to_idx``, ``idx_to_label``, ``predicate_to_idx``,
  ``idx_to_predicate``, ``attribute_to_idx``, ``idx_to_attribute`` (background not listed;
  ``idx_to_*`` keys are strings), ``object_count``, ``predicate_count``, ``attribute_count``.
* ``image_data.json``: a list of ``{image_id, width, height, url, coco_id, flickr_id}`` in the
  h5's image order. Images are expected at ``<image_dir>/<image_id>.jpg``.

Box encoding: ``x = round(x1 * s)``, ``w = max(round((x2 - x1) * s), 1)`` (clamped to the
scaled image) and ``cx = x + ceil(w / 2)``, which :class:`~pyg_sgg.data.vg.VGDataset` (SGB's
``cx - w / 2`` truncated on the integer array) decodes back to exactly ``x``; the pixel error
of the round trip is at most one unit of the 1024 grid.
"""
import json
import os
from pathlib import Path
from typing import Dict, List, Sequence, Union

import numpy as np

__all__ = ["write_vg150", "encode_boxes", "H5_FILE", "DICTS_FILE", "IMAGE_DATA_FILE"]

H5_FILE = "VG-SGG-with-attri.h5"
DICTS_FILE = "VG-SGG-dicts-with-attri.json"
IMAGE_DATA_FILE = "image_data.json"
NUM_ATTRIBUTES_PER_BOX = 10


def encode_boxes(boxes: np.ndarray, width: int, height: int, scale: int = 1024) -> np.ndarray:
    """``[N, 4]`` xyxy pixels -> ``[N, 4]`` int32 ``(cx, cy, w, h)`` at ``scale`` of the
    longer image side (the VG-SGG ``boxes_<scale>`` encoding)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = float(scale) / max(int(width), int(height))
    lim = np.array([int(round(width * s)), int(round(height * s))], dtype=np.int64)
    xy = np.round(boxes[:, :2] * s).astype(np.int64)
    wh = np.round((boxes[:, 2:] - boxes[:, :2]) * s).astype(np.int64)
    xy = np.clip(xy, 0, np.maximum(lim - 2, 0))
    wh = np.clip(wh, 1, None)
    wh = np.minimum(wh, np.maximum(lim - xy, 1))
    cxy = xy + (wh + 1) // 2  # x + ceil(w / 2): decodes to x under trunc(cx - w / 2)
    return np.concatenate([cxy, wh], axis=1).astype(np.int32)


def _class_dict(names: Sequence[str], what: str) -> Dict[str, int]:
    if len(names) == 0 or names[0] != "__background__":
        raise ValueError(f"write_vg150: {what} must start with '__background__', "
                         f"got {list(names[:1])}")
    out = {}
    for i, n in enumerate(names[1:], start=1):
        if n in out:
            raise ValueError(f"write_vg150: duplicate name {n!r} in {what}")
        out[n] = i
    return out


def write_vg150(out_dir: Union[str, os.PathLike], images: List[dict],
                object_classes: Sequence[str], predicate_classes: Sequence[str]) -> Path:
    """Write ``images`` as a VG150 dataset (h5 + dicts json + image_data json).

    Args:
        out_dir: target folder (created).
        images: one dict per image with ``image_id`` (int), ``width``, ``height`` (int),
            ``file_name`` (str, written as ``url``), ``boxes`` float ``[N, 4]`` xyxy pixels,
            ``labels`` int ``[N]`` in ``1..C``, ``relations`` int ``[M, 3]``
            ``(subject, object, predicate)`` with local box indices and predicates ``1..P``,
            ``split`` (0 train, 2 test).
        object_classes: ``["__background__", ...]`` object names (``C + 1``).
        predicate_classes: ``["__background__", ...]`` predicate names (``P + 1``).

    Returns:
        Path: ``out_dir``.
    """
    import h5py

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label_to_idx = _class_dict(object_classes, "object_classes")
    predicate_to_idx = _class_dict(predicate_classes, "predicate_classes")
    num_obj, num_pred = len(object_classes) - 1, len(predicate_classes) - 1

    n_img = len(images)
    split = np.zeros(n_img, dtype=np.int32)
    first_box = np.full(n_img, -1, dtype=np.int32)
    last_box = np.full(n_img, -1, dtype=np.int32)
    first_rel = np.full(n_img, -1, dtype=np.int32)
    last_rel = np.full(n_img, -1, dtype=np.int32)
    labels, b1024, b512, rels, preds = [], [], [], [], []
    image_data = []
    nb = nr = 0
    for i, im in enumerate(images):
        iid = int(im["image_id"])
        w, h = int(im["width"]), int(im["height"])
        boxes = np.asarray(im["boxes"], dtype=np.float64).reshape(-1, 4)
        lab = np.asarray(im["labels"], dtype=np.int64).reshape(-1)
        rel = np.asarray(im.get("relations", np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
        n, m = boxes.shape[0], rel.shape[0]
        if lab.shape[0] != n:
            raise ValueError(f"write_vg150: image {iid}: {lab.shape[0]} labels for {n} boxes")
        if n and (lab.min() < 1 or lab.max() > num_obj):
            raise ValueError(f"write_vg150: image {iid}: labels outside 1..{num_obj}")
        if m and (rel[:, :2].min() < 0 or rel[:, :2].max() >= n):
            raise ValueError(f"write_vg150: image {iid}: relation box index outside 0..{n - 1}")
        if m and (rel[:, 2].min() < 1 or rel[:, 2].max() > num_pred):
            raise ValueError(f"write_vg150: image {iid}: predicates outside 1..{num_pred}")
        s = int(im.get("split", 0))
        if s not in (0, 2):
            raise ValueError(f"write_vg150: image {iid}: split must be 0 (train) or 2 (test)")
        split[i] = s
        if n:
            first_box[i], last_box[i] = nb, nb + n - 1
            labels.append(lab)
            b1024.append(encode_boxes(boxes, w, h, 1024))
            b512.append(encode_boxes(boxes, w, h, 512))
        if m:
            first_rel[i], last_rel[i] = nr, nr + m - 1
            rels.append(rel[:, :2] + nb)
            preds.append(rel[:, 2])
        nb += n
        nr += m
        image_data.append({"width": w, "height": h, "image_id": iid,
                           "url": str(im.get("file_name", f"{iid}.jpg")),
                           "coco_id": im.get("coco_id"), "flickr_id": im.get("flickr_id")})

    def cat(parts, shape, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(shape, dtype=dtype)

    all_labels = cat(labels, (0,), np.int64).reshape(-1, 1)
    all_preds = cat(preds, (0,), np.int64).reshape(-1, 1)
    with h5py.File(out / H5_FILE, "w") as f:
        f.create_dataset("split", data=split)
        f.create_dataset("img_to_first_box", data=first_box)
        f.create_dataset("img_to_last_box", data=last_box)
        f.create_dataset("img_to_first_rel", data=first_rel)
        f.create_dataset("img_to_last_rel", data=last_rel)
        f.create_dataset("labels", data=all_labels)
        f.create_dataset("boxes_1024", data=cat(b1024, (0, 4), np.int32))
        f.create_dataset("boxes_512", data=cat(b512, (0, 4), np.int32))
        f.create_dataset("attributes", data=np.zeros((nb, NUM_ATTRIBUTES_PER_BOX), np.int64))
        f.create_dataset("active_object_mask", data=np.ones((nb, 1), dtype=bool))
        f.create_dataset("relationships", data=cat(rels, (0, 2), np.int32))
        f.create_dataset("predicates", data=all_preds)

    obj_count = np.bincount(all_labels.reshape(-1), minlength=num_obj + 1)
    pred_count = np.bincount(all_preds.reshape(-1), minlength=num_pred + 1)
    dicts = {
        "label_to_idx": label_to_idx,
        "idx_to_label": {str(i): n for n, i in label_to_idx.items()},
        "predicate_to_idx": predicate_to_idx,
        "idx_to_predicate": {str(i): n for n, i in predicate_to_idx.items()},
        "attribute_to_idx": {},
        "idx_to_attribute": {},
        "object_count": {n: int(obj_count[i]) for n, i in label_to_idx.items()},
        "predicate_count": {n: int(pred_count[i]) for n, i in predicate_to_idx.items()},
        "attribute_count": {},
    }
    with open(out / DICTS_FILE, "w") as f:
        json.dump(dicts, f)
    with open(out / IMAGE_DATA_FILE, "w") as f:
        json.dump(image_data, f)
    return out
