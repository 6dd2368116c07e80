"""COCO instance annotations with masks as :class:`~pyg_sgg.data.SceneGraph` objects.

* Category ids (any, possibly non-contiguous) map to contiguous labels ``1..K`` in
  increasing id order; ``class_names[0] = "__background__"``.
* ``segmentation`` polygons, uncompressed RLE (``counts`` list) and compressed RLE
  (``counts`` str) decode to binary masks ``[N, H, W]`` uint8 via ``pycocotools.mask``.
* Crowd: ``iscrowd=1`` annotations are not instances; their boxes are kept as
  ``crowd_boxes [K, 4]`` xyxy (regions to ignore). Boxes clipped to the image with zero
  width or height are dropped (torchvision's COCO reference does the same).
* Images without annotations are kept (``N = 0``, ``masks [0, H, W]``).
* Images are loaded lazily (:meth:`COCOMaskDataset.load_image`); a missing image file
  raises then. Malformed input raises :class:`~pyg_sgg.data.vg.DatasetFormatError` naming
  the file and the field.
"""
import json
import os
import warnings
from pathlib import Path
from typing import Dict, List, Union

import numpy as np
import torch
from torch import Tensor

from .scene_graph import SceneGraph
from .vg import DatasetFormatError, read_rgb

__all__ = ["COCOMaskDataset", "decode_segmentation"]

PathLike = Union[str, os.PathLike]


def rle_string_counts(counts: str) -> List[int]:
    """The run lengths of a compressed COCO RLE string (pycocotools' ``rleFrString``:
    6-bit groups, each character ``chr(48 + group)``, bit 5 = more groups follow, bit 4 of
    the last group = sign; from the third run on a run is stored as the difference to the
    run two before it). A character outside that range raises ``ValueError``."""
    runs: List[int] = []
    value = shift = 0
    for ch in counts:
        c = ord(ch) - 48
        if not 0 <= c < 64:
            raise ValueError(f"character {ch!r} is not of the compressed RLE alphabet")
        value |= (c & 0x1F) << shift
        shift += 5
        if not c & 0x20:
            if c & 0x10:
                value |= -1 << shift
            if len(runs) > 2:
                value += runs[-2]
            runs.append(value)
            value = shift = 0
    if shift:
        raise ValueError("the compressed RLE string ends inside a run")
    return runs


def check_rle_counts(counts, height: int, width: int) -> None:
    """``ValueError`` unless ``counts`` (a list, or a compressed string) are non-negative
    runs that cover the ``height x width`` mask exactly (pycocotools decodes anything,
    reading past the runs or returning non-binary masks)."""
    runs = rle_string_counts(counts) if isinstance(counts, str) else counts
    if any((not isinstance(r, (int, np.integer))) or r < 0 for r in runs):
        raise ValueError("RLE counts must be non-negative integers")
    if sum(runs) != height * width:
        raise ValueError(f"RLE counts cover {sum(runs)} pixels, the {height} x {width} mask "
                         f"has {height * width}")


def decode_segmentation(seg, height: int, width: int) -> np.ndarray:
    """COCO ``segmentation`` (polygon list, uncompressed or compressed RLE) -> ``[H, W]``
    uint8 binary mask. A broken RLE (runs that do not cover the mask, characters outside
    the compressed alphabet) raises ``ValueError``."""
    from pycocotools import mask as mask_utils

    if isinstance(seg, list):  # polygons
        polys = [p for p in seg if len(p) >= 6]
        if not polys:
            return np.zeros((height, width), dtype=np.uint8)
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
    elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):
        check_rle_counts(seg["counts"], height, width)
        rle = mask_utils.frPyObjects(seg, height, width)
    elif isinstance(seg, dict) and isinstance(seg.get("counts"), (str, bytes)):
        rle = dict(seg)
        if isinstance(rle["counts"], bytes):
            rle["counts"] = rle["counts"].decode("ascii", errors="replace")
        check_rle_counts(rle["counts"], height, width)
        rle["counts"] = rle["counts"].encode("ascii")
    else:
        raise ValueError("unsupported segmentation (expected polygons or RLE)")
    with warnings.catch_warnings():  # pycocotools' numpy-2 copy= DeprecationWarning
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.ascontiguousarray(mask_utils.decode(rle), dtype=np.uint8)


class COCOMaskDataset(torch.utils.data.Dataset):
    r"""COCO instances json + image folder; ``ds[i]`` is a :class:`SceneGraph` with
    ``boxes [N, 4]`` xyxy, contiguous ``labels [N]`` in ``1..K``, ``masks [N, H, W]``
    uint8, ``crowd_boxes [K_c, 4]``, ``image_size [1, 2]`` (h, w), ``image_id [1]``,
    ``image_path`` and no relations.

    Args:
        annotation_file (str): ``instances_*.json``.
        image_dir (str): folder of the images (``file_name`` is relative to it).
    """

    def __init__(self, annotation_file: PathLike, image_dir: PathLike):
        self.annotation_file = Path(annotation_file)
        self.image_dir = Path(image_dir)
        path = self.annotation_file
        if not path.is_file():
            raise DatasetFormatError(f"{path}: field 'annotation_file': missing file")
        try:
            with open(path) as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise DatasetFormatError(f"{path}: field '<json>': not valid JSON ({e})") from None
        for key in ("images", "annotations", "categories"):
            if not isinstance(data, dict) or key not in data:
                raise DatasetFormatError(f"{path}: field '{key}': missing key")
        cats = sorted(data["categories"], key=lambda c: int(c["id"]))
        for c in cats:
            if "id" not in c or "name" not in c:
                raise DatasetFormatError(f"{path}: field 'categories': entry without id/name")
        self.category_ids = [int(c["id"]) for c in cats]
        if len(set(self.category_ids)) != len(cats):
            raise DatasetFormatError(f"{path}: field 'categories.id': duplicate category ids")
        self.class_names: List[str] = ["__background__"] + [str(c["name"]) for c in cats]
        self.cat_to_label: Dict[int, int] = {cid: k + 1 for k, cid in
                                             enumerate(self.category_ids)}
        self.images: List[dict] = []
        pos = {}
        for k, im in enumerate(data["images"]):
            for key in ("id", "file_name", "width", "height"):
                if key not in im:
                    raise DatasetFormatError(f"{path}: field 'images.{key}': missing in "
                                             f"image record {k}")
            pos[int(im["id"])] = len(self.images)
            self.images.append(im)
        self.anns: List[List[dict]] = [[] for _ in self.images]
        for k, a in enumerate(data["annotations"]):
            for key in ("image_id", "category_id", "bbox"):
                if key not in a:
                    raise DatasetFormatError(f"{path}: field 'annotations.{key}': missing in "
                                             f"annotation {k}")
            if int(a["image_id"]) not in pos:
                raise DatasetFormatError(f"{path}: field 'annotations.image_id': annotation "
                                         f"{k} refers to unknown image {a['image_id']}")
            if int(a["category_id"]) not in self.cat_to_label:
                raise DatasetFormatError(f"{path}: field 'annotations.category_id': "
                                         f"annotation {k} has unknown category "
                                         f"{a['category_id']}")
            if len(a["bbox"]) != 4:
                raise DatasetFormatError(f"{path}: field 'annotations.bbox': annotation {k} "
                                         f"has {len(a['bbox'])} values, expected 4")
            if not a.get("iscrowd", 0) and "segmentation" not in a:
                raise DatasetFormatError(f"{path}: field 'annotations.segmentation': missing "
                                         f"in annotation {k}")
            self.anns[pos[int(a["image_id"])]].append(a)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        return len(self.class_names) - 1

    def image_path(self, i: int) -> Path:
        return self.image_dir / self.images[i]["file_name"]

    def load_image(self, i: int) -> Tensor:
        """``[3, H, W]`` float image in ``[0, 1]``."""
        p = self.image_path(i)
        if not p.is_file():
            raise DatasetFormatError(f"{p}: field 'image_dir': missing image file for image "
                                     f"id {self.images[i]['id']}")
        arr = read_rgb(p)
        return torch.from_numpy(arr).permute(2, 0, 1).float().div_(255.0)

    def __getitem__(self, i: int) -> SceneGraph:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"COCOMaskDataset index {i} out of range 0..{len(self) - 1}")
        im = self.images[i]
        h, w = int(im["height"]), int(im["width"])
        anns = self.anns[i]
        crowd = [a for a in anns if a.get("iscrowd", 0)]
        inst = [a for a in anns if not a.get("iscrowd", 0)]

        def xyxy(lst):
            b = np.asarray([a["bbox"] for a in lst], dtype=np.float32).reshape(-1, 4)
            b[:, 2:] += b[:, :2]
            b[:, 0::2] = b[:, 0::2].clip(0, w)
            b[:, 1::2] = b[:, 1::2].clip(0, h)
            return b

        boxes = xyxy(inst)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        inst = [a for a, k in zip(inst, keep) if k]
        boxes = boxes[keep]
        labels = np.asarray([self.cat_to_label[int(a["category_id"])] for a in inst],
                            dtype=np.int64)
        masks = np.zeros((len(inst), h, w), dtype=np.uint8)
        for k, a in enumerate(inst):
            seg = a["segmentation"]
            if isinstance(seg, dict) and "size" in seg and list(seg["size"]) != [h, w]:
                raise DatasetFormatError(
                    f"{self.annotation_file}: field 'annotations.segmentation.size': "
                    f"annotation {a.get('id')} has size {list(seg['size'])}, image is {[h, w]}")
            try:
                masks[k] = decode_segmentation(seg, h, w)
            except (ValueError, TypeError, KeyError, OverflowError) as e:
                raise DatasetFormatError(
                    f"{self.annotation_file}: field 'annotations.segmentation': annotation "
                    f"{a.get('id')}: {e}") from None
        return SceneGraph(boxes=torch.from_numpy(boxes), labels=torch.from_numpy(labels),
                          image_size=(h, w), image_id=int(im["id"]),
                          masks=torch.from_numpy(masks),
                          crowd_boxes=torch.from_numpy(xyxy(crowd)),
                          image_path=str(self.image_path(i)))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(images={len(self)}, "
                f"classes={self.num_classes})")
