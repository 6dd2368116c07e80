"""Visual Genome (VG150) scene graphs with SGB's exact loading semantics.

Reads ``VG-SGG-with-attri.h5``, ``VG-SGG-dicts-with-attri.json``, ``image_data.json`` and an
image folder (``<image_dir>/<image_id>.jpg``), as Scene-Graph-Benchmark's ``VGDataset``:

* ``split``: h5 flag 0 = train (and val), 2 = test. Images without boxes are dropped; with
  ``filter_empty_rels`` images without relations are dropped (in every split, as SGB does).
  ``num_images`` keeps the first images of the split; ``val`` is the first ``num_val_images``
  of train and ``train`` excludes them.
* Boxes: ``boxes_<box_scale>`` ``(cx, cy, w, h)`` -> ``x1 = cx - w / 2`` then ``x2 = x1 + w``,
  computed in the h5 array's own dtype (integer truncation, as SGB), then rescaled by
  ``max(W, H) / box_scale`` and clipped to ``[0, W - 1] x [0, H - 1]`` (``clip_to_image``).
  In ``train``, boxes left empty by the clipping are removed with their relations
  (``remove_empty=True``); other splits keep every box (SGB's evaluation ground truth).
* Train only: ``filter_non_overlap`` keeps relations whose boxes intersect (``+1`` pixel
  convention, at box scale) and drops images left without relations;
  ``filter_duplicate_rels`` samples one predicate per (subject, object) pair at every
  ``ds[i]`` (torch RNG, or ``ds.generator`` when set). Val and test keep duplicates.
* ``image_data.json``: SGB skips the known-corrupted ids 1592, 1722, 4616, 4617; they are
  skipped here when the json has more entries than the h5 has images (real VG150: 108,077 vs
  108,073), after which both must have the same length. SGB also silently drops entries
  whose image file is missing; here a missing image raises instead, lazily in
  :meth:`VGDataset.load_image` (or at construction with ``check_images=True``).

Every malformed input raises :class:`DatasetFormatError` naming the file and the field.
"""
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Union

import numpy as np
import torch
from torch import Tensor

from ..errors import DatasetFormatError
from .scene_graph import SceneGraph
from .vocabulary_check import vocabulary_mismatches

logger = logging.getLogger(__name__)

__all__ = ["VGDataset", "DatasetFormatError", "load_vg_info", "CORRUPTED_IMAGE_IDS"]

CORRUPTED_IMAGE_IDS = (1592, 1722, 4616, 4617)
H5_FILE = "VG-SGG-with-attri.h5"
DICTS_FILE = "VG-SGG-dicts-with-attri.json"
IMAGE_DATA_FILE = "image_data.json"
PathLike = Union[str, os.PathLike]


def read_rgb(path, exif_transpose: bool = False) -> np.ndarray:
    """``[H, W, 3]`` uint8 pixels of an image file (``exif_transpose``: turned as its EXIF
    orientation says - photos; not VG, whose boxes are on the stored pixels); a corrupt or
    truncated file raises :class:`DatasetFormatError` naming it."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im) if exif_transpose else im
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, SyntaxError, ValueError) as e:  # PIL's errors for unreadable data
        raise DatasetFormatError(f"{path}: field 'image': unreadable or truncated image "
                                 f"({type(e).__name__}: {e})") from None


_WARNED = set()


def _warn_once(line: str) -> None:
    """Log ``line`` once per process (every split of a dataset reads the same files)."""
    if line not in _WARNED:
        _WARNED.add(line)
        logger.warning(line)


def _err(path, field: str, msg: str) -> DatasetFormatError:
    return DatasetFormatError(f"{path}: field '{field}': {msg}")


def _require_file(path: Path, what: str) -> Path:
    if not Path(path).is_file():
        raise DatasetFormatError(f"{path}: field '{what}': missing file")
    return Path(path)


def _ranges(first: np.ndarray, last: np.ndarray):
    """Flat indices of the inclusive ranges ``first[i]..last[i]`` and each one's owner."""
    counts = np.where(first >= 0, last - first + 1, 0).astype(np.int64)
    owner = np.repeat(np.arange(first.shape[0]), counts)
    starts = np.cumsum(counts) - counts
    flat = np.arange(int(counts.sum()), dtype=np.int64) - starts[owner] + first[owner]
    return flat, owner, counts


def load_vg_info(dicts_file: PathLike):
    """``(object_classes, predicate_classes, attribute_classes)`` from the dicts json, each
    with ``"__background__"`` at index 0 (SGB's ``load_info``); checks contiguous indices."""
    path = _require_file(Path(dicts_file), "dicts_file")
    try:
        with open(path) as f:
            info = json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetFormatError(f"{path}: field '<json>': not valid JSON ({e})") from None
    out = []
    for key, inv, required in (("label_to_idx", "idx_to_label", True),
                               ("predicate_to_idx", "idx_to_predicate", True),
                               ("attribute_to_idx", "idx_to_attribute", False)):
        if key not in info:
            if required:
                raise _err(path, key, "missing key")
            out.append(["__background__"])
            continue
        to_idx = {k: int(v) for k, v in info[key].items() if k != "__background__"}
        idx = sorted(to_idx.values())
        if idx != list(range(1, len(idx) + 1)):
            raise _err(path, key, f"indices must be 1..{len(idx)} without gaps")
        if inv in info and len(info[inv]) != len(to_idx):
            raise _err(path, inv, f"{len(info[inv])} entries but {key} has {len(to_idx)}")
        out.append(["__background__"] + sorted(to_idx, key=to_idx.get))
    return tuple(out)


class VGDataset(torch.utils.data.Dataset):
    r"""VG150 scene graphs (SGB semantics); ``ds[i]`` is a
    :class:`~pyg_sgg.data.SceneGraph` with ``boxes [N, 4]`` xyxy pixels, ``labels [N]``,
    ``gt_rel_index [2, M]``, ``gt_rel_label [M]``, ``image_size [1, 2]`` (h, w),
    ``image_id [1]`` and ``image_path`` (str). Images are loaded lazily by
    :meth:`load_image`.

    Args:
        root (str, optional): folder with the three files and ``images/``; ``None`` uses the
            embedded SynthVG (``pyg_sgg.data.synthvg.ensure_dataset()``) unless all three
            files are given.
        split (str): ``"train"``, ``"val"`` or ``"test"``.
        h5_file, dicts_file, image_data_file, image_dir: override the paths under ``root``
            (``image_dir`` defaults to ``root/images``, else ``root/VG_100K``).
        num_val_images (int): first train images that form ``val``. (default: 5000)
        filter_empty_rels (bool): drop images without relations. (default: True)
        filter_duplicate_rels (bool): train: one random predicate per pair. (default: True)
        filter_non_overlap (bool): train: keep overlapping relations only. (default: True)
        box_scale (int): which ``boxes_<scale>`` to read. (default: 1024)
        num_images (int): keep the first ``num_images`` of the split (-1: all).
        train_fraction (float): train: keep a random ``train_fraction`` of the images (at
            least one), drawn with ``subset_seed`` and kept in file order, for
            data-efficiency studies; other splits ignore it. (default: 1.0)
        subset_seed (int): seed of that draw (the same subset for every method and training
            seed). (default: 0)
        check_images (bool): check every image file exists at construction.
            (default: False: checked when loaded)
    """

    def __init__(self, root: Optional[PathLike] = None, split: str = "train", *,
                 h5_file: Optional[PathLike] = None, dicts_file: Optional[PathLike] = None,
                 image_data_file: Optional[PathLike] = None,
                 image_dir: Optional[PathLike] = None, num_val_images: int = 5000,
                 filter_empty_rels: bool = True, filter_duplicate_rels: bool = True,
                 filter_non_overlap: bool = True, box_scale: int = 1024,
                 num_images: int = -1, check_images: bool = False,
                 train_fraction: float = 1.0, subset_seed: int = 0):
        if not 0.0 < float(train_fraction) <= 1.0:
            raise ValueError(f"VGDataset: train_fraction must be in (0, 1], "
                             f"got {train_fraction!r}")
        self.train_fraction, self.subset_seed = float(train_fraction), int(subset_seed)
        if split not in ("train", "val", "test"):
            raise ValueError(f"VGDataset: split must be 'train', 'val' or 'test', got {split!r}")
        if root is None and None in (h5_file, dicts_file, image_data_file):
            from .synthvg import ensure_dataset
            root = ensure_dataset()
        root = Path(root) if root is not None else None
        self.root = root
        self.split = split
        self.h5_file = Path(h5_file) if h5_file is not None else root / H5_FILE
        self.dicts_file = Path(dicts_file) if dicts_file is not None else root / DICTS_FILE
        self.image_data_file = (Path(image_data_file) if image_data_file is not None
                                else root / IMAGE_DATA_FILE)
        if image_dir is None:
            base = root if root is not None else self.h5_file.parent
            image_dir = base / "images"
            if not image_dir.is_dir() and (base / "VG_100K").is_dir():
                image_dir = base / "VG_100K"
        self.image_dir = Path(image_dir)
        self.box_scale = int(box_scale)
        self.filter_empty_rels = filter_empty_rels
        self.filter_non_overlap = filter_non_overlap and split == "train"
        self.filter_duplicate_rels = filter_duplicate_rels and split == "train"
        self.remove_empty_boxes = split == "train"
        self.generator: Optional[torch.Generator] = None

        (self.object_classes, self.predicate_classes,
         self.attribute_classes) = load_vg_info(self.dicts_file)
        self._load_graphs(num_images, num_val_images)
        self._load_image_data()
        if check_images:
            for i in range(len(self)):
                self._image_file(i)

    # ------------------------------------------------------------------ loading
    def _load_graphs(self, num_images: int, num_val_images: int):
        import h5py

        path = _require_file(self.h5_file, "h5_file")
        box_key = f"boxes_{self.box_scale}"
        try:
            h5 = h5py.File(path, "r")
        except OSError as e:  # truncated, empty or not HDF5 at all
            raise _err(path, "<hdf5>", f"not a readable HDF5 file ({str(e).splitlines()[0]})"
                       ) from None
        with h5 as f:
            def get(key, ndim, cols=None, integer=True):
                if key not in f:
                    raise _err(path, key, "missing h5 key")
                a = f[key][()]
                kinds = "iu" if integer else "iuf"
                if not isinstance(a, np.ndarray) or a.dtype.kind not in kinds:
                    dtype = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
                    raise _err(path, key, f"wrong dtype {dtype}, expected "
                                          f"{'integers' if integer else 'numbers'}")
                if ndim == 2 and cols == 1 and a.ndim == 1:
                    a = a[:, None]
                if a.ndim != ndim or (cols is not None and a.shape[1] != cols):
                    want = "[n]" if ndim == 1 else f"[n, {cols}]"
                    raise _err(path, key, f"wrong shape {list(a.shape)}, expected {want}")
                return a
            data_split = get("split", 1)
            first_box = get("img_to_first_box", 1).astype(np.int64)
            last_box = get("img_to_last_box", 1).astype(np.int64)
            first_rel = get("img_to_first_rel", 1).astype(np.int64)
            last_rel = get("img_to_last_rel", 1).astype(np.int64)
            labels = get("labels", 2, 1)[:, 0].astype(np.int64)
            boxes = get(box_key, 2, 4, integer=False)
            relations = get("relationships", 2, 2).astype(np.int64)
            predicates = get("predicates", 2, 1)[:, 0].astype(np.int64)
        n_img, n_box, n_rel = data_split.shape[0], boxes.shape[0], relations.shape[0]
        self._num_h5_images = int(n_img)
        for key, a in (("img_to_first_box", first_box), ("img_to_last_box", last_box),
                       ("img_to_first_rel", first_rel), ("img_to_last_rel", last_rel)):
            if a.shape[0] != n_img:
                raise _err(path, key, f"wrong shape [{a.shape[0]}], expected [{n_img}] "
                                      "(one entry per image of 'split')")
        if labels.shape[0] != n_box:
            raise _err(path, "labels", f"wrong shape [{labels.shape[0]}, 1], expected "
                                       f"[{n_box}, 1] (one per row of {box_key})")
        if predicates.shape[0] != n_rel:
            raise _err(path, "predicates", f"wrong shape [{predicates.shape[0]}, 1], "
                                           f"expected [{n_rel}, 1] (one per relationship)")
        # ranges
        for fk, lk, fa, la, n in (("img_to_first_box", "img_to_last_box", first_box,
                                   last_box, n_box),
                                  ("img_to_first_rel", "img_to_last_rel", first_rel,
                                   last_rel, n_rel)):
            has = fa >= 0
            bad = has & ((la < fa) | (la >= n))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise _err(path, lk, f"image {i}: range {fa[i]}..{la[i]} outside 0..{n - 1}")
        num_obj = len(self.object_classes) - 1
        num_pred = len(self.predicate_classes) - 1
        if n_box and (labels.min() < 1 or labels.max() > num_obj):
            v = labels.max() if labels.max() > num_obj else labels.min()
            raise _err(path, "labels", f"value {v} outside 1..{num_obj} (object classes "
                                       f"in {self.dicts_file})")
        if n_rel and (predicates.min() < 1 or predicates.max() > num_pred):
            v = predicates.max() if predicates.max() > num_pred else predicates.min()
            raise _err(path, "predicates", f"value {v} outside 1..{num_pred} (predicate "
                                           f"classes in {self.dicts_file})")
        self.vocabulary_warnings = vocabulary_mismatches(
            self.dicts_file, self.object_classes, self.predicate_classes, labels, predicates)
        for line in self.vocabulary_warnings:
            _warn_once(line)
        if n_box and (boxes[:, :2].min() < 0 or boxes[:, 2:].min() <= 0):
            raise _err(path, box_key, "negative centre or non-positive width/height")
        rel_flat, rel_owner, _ = _ranges(np.where(first_box >= 0, first_rel, -1), last_rel)
        if (first_rel[first_box < 0] >= 0).any():
            raise _err(path, "img_to_first_rel", "relations on an image without boxes")
        if rel_flat.size:
            r = relations[rel_flat]
            lo, hi = first_box[rel_owner, None], last_box[rel_owner, None]
            bad = (r < lo) | (r > hi)
            if bad.any():
                k = int(np.flatnonzero(bad.any(1))[0])
                raise _err(path, "relationships",
                           f"relation {rel_flat[k]} box index {r[k].tolist()} outside its "
                           f"image's boxes {lo[k, 0]}..{hi[k, 0]}")

        # SGB split selection
        mask = (data_split == (2 if self.split == "test" else 0)) & (first_box >= 0)
        if self.filter_empty_rels:
            mask &= first_rel >= 0
        index = np.flatnonzero(mask)
        if num_images > -1:
            index = index[:num_images]
        if num_val_images > 0:
            if self.split == "val":
                index = index[:num_val_images]
            elif self.split == "train":
                index = index[num_val_images:]
        if self.split == "train" and self.train_fraction < 1.0 and len(index):
            k = max(1, int(round(self.train_fraction * len(index))))
            pick = np.random.default_rng(self.subset_seed).choice(len(index), k, replace=False)
            index = index[np.sort(pick)]

        # SGB's cx,cy,w,h -> xyxy, in the array's own dtype
        boxes = boxes.copy()
        boxes[:, :2] = boxes[:, :2] - boxes[:, 2:] / 2
        boxes[:, 2:] = boxes[:, :2] + boxes[:, 2:]
        box_flat, box_owner, box_counts = _ranges(first_box[index], last_box[index])
        rfirst = np.where(first_box[index] >= 0, first_rel[index], -1)
        rel_flat, rel_owner, rel_counts = _ranges(rfirst, last_rel[index])
        box_ptr = np.concatenate([[0], np.cumsum(box_counts)])
        rels = np.column_stack([relations[rel_flat] - first_box[index][rel_owner, None]
                                + box_ptr[rel_owner, None], predicates[rel_flat]])
        sel_boxes = boxes[box_flat].astype(np.float64)
        if self.filter_non_overlap:  # keep overlapping relations; drop emptied images
            a, b = sel_boxes[rels[:, 0]], sel_boxes[rels[:, 1]]
            iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + 1
            ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + 1
            keep_rel = (iw > 0) & (ih > 0)
            rels, rel_owner = rels[keep_rel], rel_owner[keep_rel]
            rel_counts = np.bincount(rel_owner, minlength=index.shape[0])
            keep_img = rel_counts > 0
            keep_box = keep_img[box_owner]
            new_ptr = np.concatenate([[0], np.cumsum(box_counts * keep_img)])
            rels[:, :2] += (new_ptr[:-1] - box_ptr[:-1])[rel_owner, None]
            index, box_counts, rel_counts = (index[keep_img], box_counts[keep_img],
                                             rel_counts[keep_img])
            box_flat, sel_boxes = box_flat[keep_box], sel_boxes[keep_box]
        self.image_index = index  # rows of the h5 / image_data kept, in order
        self.boxes_scaled = sel_boxes.astype(np.float32)  # SGB's xyxy at box_scale
        self.all_labels = labels[box_flat]
        self.obj_ptr = np.concatenate([[0], np.cumsum(box_counts)]).astype(np.int64)
        self.rel_ptr = np.concatenate([[0], np.cumsum(rel_counts)]).astype(np.int64)
        # relations: local (subject, object) indices + predicate
        owner = np.repeat(np.arange(index.shape[0]), rel_counts)
        rels = rels.copy()
        rels[:, :2] -= self.obj_ptr[owner, None]
        self.all_relations = rels.astype(np.int64)
        # images with a (subject, object) pair annotated twice: only they need
        # sample_duplicate_relations (computed once for the split, not per __getitem__)
        base = int(np.diff(self.obj_ptr).max(initial=0)) + 1
        key = (owner * base + rels[:, 0]) * base + rels[:, 1]
        dup = np.zeros(len(key), bool)
        if len(key):
            order = np.argsort(key, kind="stable")
            same = key[order][1:] == key[order][:-1]
            dup[order[1:][same]] = True
        self.has_duplicate_pairs = np.bincount(owner[dup], minlength=index.shape[0]) > 0

    def _load_image_data(self):
        path = _require_file(self.image_data_file, "image_data_file")
        try:
            with open(path) as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise DatasetFormatError(f"{path}: field '<json>': not valid JSON ({e})") from None
        if not isinstance(data, list):
            raise _err(path, "<root>", "expected a list of image records")
        n_h5 = self._num_h5_images
        for k, rec in enumerate(data):
            for key in ("image_id", "width", "height"):
                if not isinstance(rec, dict) or key not in rec:
                    raise _err(path, key, f"missing in record {k}")
        if len(data) > n_h5:
            data = [r for r in data if int(r["image_id"]) not in CORRUPTED_IMAGE_IDS]
        if len(data) != n_h5:
            raise _err(path, "<length>", f"{len(data)} image records but the h5 "
                                         f"{self.h5_file} has {n_h5} images")
        recs = [data[int(i)] for i in self.image_index]
        self.img_info: List[dict] = recs
        self.image_ids = np.array([int(r["image_id"]) for r in recs], dtype=np.int64)
        self.widths = np.array([int(r["width"]) for r in recs], dtype=np.int64)
        self.heights = np.array([int(r["height"]) for r in recs], dtype=np.int64)
        if (self.widths <= 0).any() or (self.heights <= 0).any():
            k = int(np.flatnonzero((self.widths <= 0) | (self.heights <= 0))[0])
            raise _err(path, "width/height", f"non-positive size for image_id "
                                             f"{self.image_ids[k]}")
        # pixel boxes: rescale by max(W, H) / box_scale, clip to [0, W-1] x [0, H-1]
        counts = np.diff(self.obj_ptr)
        scale = np.maximum(self.widths, self.heights) / float(self.box_scale)
        b = self.boxes_scaled.astype(np.float64) * np.repeat(scale, counts)[:, None]
        wlim = np.repeat(self.widths - 1, counts).astype(np.float64)
        hlim = np.repeat(self.heights - 1, counts).astype(np.float64)
        b[:, 0::2] = np.clip(b[:, 0::2], 0, wlim[:, None])
        b[:, 1::2] = np.clip(b[:, 1::2], 0, hlim[:, None])
        self.all_boxes = b.astype(np.float32)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return int(self.image_index.shape[0])

    @property
    def num_object_classes(self) -> int:
        return len(self.object_classes) - 1

    @property
    def num_predicates(self) -> int:
        return len(self.predicate_classes) - 1

    def get_img_info(self, i: int) -> dict:
        """The ``image_data.json`` record of image ``i``."""
        return self.img_info[i]

    def image_path(self, i: int) -> Path:
        return self.image_dir / f"{int(self.image_ids[i])}.jpg"

    @property
    def _image_prefix(self) -> str:
        """``str(image_dir) + "/"``: ``image_path`` as a string without pathlib per item."""
        return os.path.join(str(self.image_dir), "")

    def _image_file(self, i: int) -> Path:
        p = self.image_path(i)
        if not p.is_file():
            raise DatasetFormatError(f"{p}: field 'image_dir': missing image file for "
                                     f"image_id {int(self.image_ids[i])}")
        return p

    def load_image(self, i: int) -> Tensor:
        """``[3, H, W]`` float image in ``[0, 1]``."""
        p = self._image_file(i)
        arr = read_rgb(p)
        if (arr.shape[1], arr.shape[0]) != (int(self.widths[i]), int(self.heights[i])):
            warnings.warn(f"{p}: image {int(self.image_ids[i])}: field 'width/height': the "
                          f"file is {arr.shape[1]} x {arr.shape[0]}, image_data.json says "
                          f"{self.widths[i]} x {self.heights[i]}; boxes follow the json")
        return torch.from_numpy(arr).permute(2, 0, 1).float().div_(255.0)

    def _rand(self, n: int) -> Tensor:
        return torch.rand(n, generator=self.generator)

    def __getitem__(self, i: int) -> SceneGraph:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"VGDataset index {i} out of range 0..{len(self) - 1}")
        o0, o1 = int(self.obj_ptr[i]), int(self.obj_ptr[i + 1])
        r0, r1 = int(self.rel_ptr[i]), int(self.rel_ptr[i + 1])
        boxes = torch.from_numpy(self.all_boxes[o0:o1].copy())
        labels = torch.from_numpy(self.all_labels[o0:o1].copy())
        rels = torch.from_numpy(self.all_relations[r0:r1].copy())
        if self.filter_duplicate_rels and rels.size(0) > 1:
            noise = self._rand(rels.size(0))  # drawn for every image: the same stream
            if self.has_duplicate_pairs[i]:  # without duplicates the sample is the identity
                rels = sample_duplicate_relations(rels, boxes.size(0), noise)
        if self.remove_empty_boxes and boxes.size(0):
            keep = (boxes[:, 3] > boxes[:, 1]) & (boxes[:, 2] > boxes[:, 0])
            if not bool(keep.all()):
                new = torch.cumsum(keep.long(), 0) - 1
                rels = rels[keep[rels[:, 0]] & keep[rels[:, 1]]]
                rels = torch.stack([new[rels[:, 0]], new[rels[:, 1]], rels[:, 2]], 1)
                boxes, labels = boxes[keep], labels[keep]
        return SceneGraph(boxes=boxes, labels=labels,
                          image_size=(int(self.heights[i]), int(self.widths[i])),
                          gt_rel_index=rels[:, :2].t().contiguous(),
                          gt_rel_label=rels[:, 2].contiguous(),
                          image_id=int(self.image_ids[i]),
                          image_path=f"{self._image_prefix}{int(self.image_ids[i])}.jpg")

    def split_arrays(self) -> Dict[str, np.ndarray]:
        """The whole split as concatenated arrays (no duplicate sampling, no box removal),
        for fast statistics.

        Returns:
            dict: ``boxes [ΣN, 4]`` float32 xyxy pixels (clipped), ``boxes_scaled [ΣN, 4]``
            SGB's unclipped xyxy at ``box_scale`` (what SGB's statistics use), ``labels
            [ΣN]``, ``obj_ptr [I + 1]``, ``relations [ΣM, 3]`` (subject, object, predicate;
            local indices), ``rel_ptr [I + 1]``, ``image_ids [I]``, ``image_sizes [I, 2]``
            (h, w).
        """
        return {"boxes": self.all_boxes, "boxes_scaled": self.boxes_scaled,
                "labels": self.all_labels, "obj_ptr": self.obj_ptr,
                "relations": self.all_relations, "rel_ptr": self.rel_ptr,
                "image_ids": self.image_ids,
                "image_sizes": np.stack([self.heights, self.widths], 1)}

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(split={self.split!r}, images={len(self)}, "
                f"objects={self.num_object_classes}, predicates={self.num_predicates})")


def sample_duplicate_relations(rels: Tensor, num_nodes: int, noise: Tensor) -> Tensor:
    """One predicate per (subject, object) pair, uniformly among that pair's predicates
    (SGB's ``filter_duplicate_rels``), pairs in order of first appearance.

    Args:
        rels (Tensor): ``[M, 3]`` (subject, object, predicate).
        num_nodes (int): number of boxes.
        noise (Tensor): ``[M]`` uniform random numbers deciding the pick.

    Returns:
        Tensor: ``[M', 3]`` with unique pairs.
    """
    key = rels[:, 0] * max(num_nodes, 1) + rels[:, 1]
    order = torch.argsort(noise)  # random order within each pair
    order = order[torch.sort(key[order], stable=True).indices]
    k = key[order]
    first = torch.ones_like(k, dtype=torch.bool)
    first[1:] = k[1:] != k[:-1]
    picked = order[first]
    # order pairs by their first appearance in the annotation
    pos = torch.arange(key.numel())
    uniq, inv = torch.unique(key, return_inverse=True)
    first_pos = torch.full((uniq.numel(),), key.numel(), dtype=torch.long)
    first_pos = first_pos.scatter_reduce(0, inv, pos, reduce="amin")
    picked = picked[torch.argsort(first_pos[torch.searchsorted(uniq, key[picked])])]
    return rels[picked]
