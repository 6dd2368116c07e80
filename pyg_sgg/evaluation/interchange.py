"""The predictions interchange format: one ``.npz`` per split, any codebase.

Every per-image array is concatenated over images and delimited by a pointer array of
length ``num_images + 1`` (like PyG's ``ptr``):

==========================  ============  ==========================================
key                         shape         meaning
==========================  ============  ==========================================
``num_predicates``          scalar        ``P`` (foreground predicates)
``gt_obj_ptr``              ``[I+1]``     GT objects of each image
``gt_boxes``                ``[ΣN, 4]``   xyxy
``gt_labels``               ``[ΣN]``      1..C
``gt_rel_ptr``              ``[I+1]``     GT relations of each image
``gt_rels``                 ``[ΣM, 3]``   (subject, object, predicate), local indices
``pred_obj_ptr``            ``[I+1]``     predicted objects (optional in PredCls)
``pred_boxes``              ``[ΣN', 4]``  (optional in PredCls)
``pred_labels``             ``[ΣN']``     (optional in PredCls)
``pred_scores``             ``[ΣN']``     (optional in PredCls)
``rel_ptr``                 ``[I+1]``     scored pairs of each image
``rel_pair_idx``            ``[ΣR, 2]``   local to the predicted objects
``rel_scores``              ``[ΣR, P+1]`` column 0 background
``train_triplets``          ``[T, 3]``    optional (subject class, object class, predicate)
``train_triplet_counts``    ``[T]``       optional; else rows of ``train_triplets`` count 1 each
``zeroshot_triplets``       ``[Z, 3]``    optional
``predicate_names``         ``[P+1]``     optional str
``image_ids``               ``[I]``       optional
``pred_masks``              ``[ΣN']``     optional bytes: each predicted object's mask,
                                          COCO compressed RLE counts in its image
``image_sizes``             ``[I, 2]``    (height, width); required with ``pred_masks``
==========================  ============  ==========================================

In PredCls the ``pred_*`` arrays may be absent: the GT boxes and labels with score 1 are used.
"""
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from .parallel import map_in_threads
from .rows_on_disk import RowsOnDisk, stored_npz_member

REQUIRED = ("num_predicates", "gt_obj_ptr", "gt_boxes", "gt_labels", "gt_rel_ptr", "gt_rels",
            "rel_ptr", "rel_pair_idx", "rel_scores")
PRED_OBJECT_KEYS = ("pred_obj_ptr", "pred_boxes", "pred_labels", "pred_scores")
OPTIONAL = ("train_triplets", "train_triplet_counts", "zeroshot_triplets", "predicate_names",
            "image_ids", "pred_masks", "image_sizes")
PTR_OF = {"gt_boxes": "gt_obj_ptr", "gt_labels": "gt_obj_ptr", "gt_rels": "gt_rel_ptr",
          "pred_boxes": "pred_obj_ptr", "pred_labels": "pred_obj_ptr",
          "pred_scores": "pred_obj_ptr", "rel_pair_idx": "rel_ptr", "rel_scores": "rel_ptr",
          "pred_masks": "pred_obj_ptr"}
_INT, _FLOAT = "integer", "floating"


class PredictionsFormatError(ValueError):
    """A predictions file (or dict) breaks the interchange format."""


def _fail(source: str, key: str, msg: str):
    raise PredictionsFormatError(f"{source}: key '{key}': {msg}")


def _check_kind(source, key, arr, kind):
    if arr.size == 0:  # an empty list has numpy's default dtype; nothing to misread
        return
    ok = np.issubdtype(arr.dtype, np.integer if kind == _INT else np.number)
    if not ok:
        _fail(source, key, f"expected {kind} dtype, got {arr.dtype}")


def _check_ptr(source, key, ptr, num_images):
    if ptr.ndim != 1 or ptr.size != num_images + 1:
        _fail(source, key, f"expected shape [{num_images + 1}], got {list(ptr.shape)}")
    if ptr[0] != 0 or np.any(np.diff(ptr) < 0):
        _fail(source, key, "must start at 0 and be non-decreasing")


def validate_predictions(data: Dict[str, np.ndarray], mode: str = "predcls",
                         source: str = "<predictions>",
                         require_content: bool = False) -> Dict[str, np.ndarray]:
    """Check every key, dtype, shape and value (finite scores and boxes, boxes not inverted,
    labels >= 1); fill PredCls' missing ``pred_*`` arrays from GT. ``require_content``: also
    reject a file with no image or no GT relation at all (nothing to score: a wrong file,
    for :func:`read_predictions`; an evaluator over empty images reports ``None`` instead).

    Returns a new dict of numpy arrays (boxes and scores float32, indices int64).
    Raises :class:`PredictionsFormatError` naming ``source`` and the offending key.
    """
    d = {k: v if isinstance(v, RowsOnDisk) else np.asarray(v) for k, v in data.items()}
    for key in REQUIRED:
        if key not in d:
            _fail(source, key, "missing")
    if not all(k in d for k in PRED_OBJECT_KEYS):
        missing = [k for k in PRED_OBJECT_KEYS if k not in d]
        if mode != "predcls":
            _fail(source, missing[0], "missing (only PredCls may omit the pred_* arrays)")
        d["pred_obj_ptr"], d["pred_boxes"] = d["gt_obj_ptr"], d["gt_boxes"]
        d["pred_labels"] = d["gt_labels"]
        d["pred_scores"] = np.ones(d["gt_labels"].shape[0], dtype=np.float32)
    num_images = d["gt_obj_ptr"].size - 1
    if num_images < (1 if require_content else 0):
        _fail(source, "gt_obj_ptr", "no images (a pointer array needs num_images + 1 >= 2 "
                                    "entries)")
    npred = d["num_predicates"]
    if (npred.ndim != 0 or npred.dtype.kind not in "iuf"
            or not np.isfinite(npred) or float(npred) != int(npred) or int(npred) < 1):
        _fail(source, "num_predicates", f"expected a positive integer scalar, got "
                                        f"{npred.tolist()!r}")
    P = int(npred)
    for key in ("gt_obj_ptr", "gt_rel_ptr", "pred_obj_ptr", "rel_ptr"):
        _check_kind(source, key, d[key], _INT)
        _check_ptr(source, key, d[key], num_images)
    shapes = {"gt_boxes": (4,), "gt_labels": (), "gt_rels": (3,), "pred_boxes": (4,),
              "pred_labels": (), "pred_scores": (), "rel_pair_idx": (2,),
              "rel_scores": (P + 1,)}
    for key, tail in shapes.items():
        arr, ptr = d[key], d[PTR_OF[key]]
        want = (int(ptr[-1]),) + tail
        if arr.shape != want and not (arr.size == 0 and want[0] == 0):
            _fail(source, key, f"expected shape {list(want)}, got {list(arr.shape)}")
        kind = _INT if key in ("gt_labels", "gt_rels", "pred_labels", "rel_pair_idx") else _FLOAT
        _check_kind(source, key, arr, kind)
        if not (isinstance(arr, RowsOnDisk) and arr.shape == want and arr.dtype == np.float32):
            # (scores left on disk stay there only as stored: float32 [R, P+1])
            arr = np.asarray(arr).reshape(want).astype(np.int64 if kind == _INT else np.float32,
                                                       copy=False)
        d[key] = arr
    _check_values(source, d)
    _check_local(source, "gt_rels", d["gt_rels"][:, :2], d["gt_rel_ptr"], d["gt_obj_ptr"])
    _check_local(source, "rel_pair_idx", d["rel_pair_idx"], d["rel_ptr"], d["pred_obj_ptr"])
    if d["gt_rels"].size and (d["gt_rels"][:, 2].min() < 1 or d["gt_rels"][:, 2].max() > P):
        _fail(source, "gt_rels", f"predicate outside 1..{P}")
    if require_content and d["gt_rels"].shape[0] == 0:
        _fail(source, "gt_rels", "no ground-truth relation in any image: nothing to score")
    for key in ("train_triplets", "zeroshot_triplets"):
        if key in d:
            arr = d[key]
            if arr.size == 0:
                arr = arr.reshape(0, 3)
            if arr.ndim != 2 or arr.shape[1] != 3:
                _fail(source, key, f"expected shape [T, 3], got {list(arr.shape)}")
            _check_kind(source, key, arr, _INT)
            d[key] = arr.astype(np.int64)
    if "train_triplet_counts" in d:
        if "train_triplets" not in d or d["train_triplet_counts"].shape != (len(d["train_triplets"]),):
            _fail(source, "train_triplet_counts", "needs train_triplets and one count per row")
    if "pred_masks" in d:
        _check_masks(source, d, num_images)
    if "predicate_names" in d and d["predicate_names"].shape != (P + 1,):
        _fail(source, "predicate_names",
              f"expected shape [{P + 1}] (with background), got {list(d['predicate_names'].shape)}")
    return d


def _check_masks(source, d, num_images):
    """``pred_masks``: one RLE (bytes) per predicted object; ``image_sizes`` ``[I, 2]`` > 0."""
    m = d["pred_masks"]
    n = int(d["pred_obj_ptr"][-1])
    if m.shape != (n,) and not (m.size == 0 and n == 0):
        _fail(source, "pred_masks", f"expected shape [{n}] (one per predicted object), got "
                                    f"{list(m.shape)}")
    if m.size and m.dtype.kind != "S":
        _fail(source, "pred_masks", f"expected bytes (COCO RLE counts), got {m.dtype}")
    if "image_sizes" not in d:
        _fail(source, "image_sizes", "missing (required with pred_masks)")
    sizes = d["image_sizes"]
    if sizes.shape != (num_images, 2):
        _fail(source, "image_sizes", f"expected shape [{num_images}, 2], got "
                                     f"{list(sizes.shape)}")
    _check_kind(source, "image_sizes", sizes, _INT)
    _first_bad("image_sizes", sizes < 1, "height or width < 1", source)
    d["pred_masks"] = m.reshape(n).astype(np.bytes_, copy=False)
    d["image_sizes"] = sizes.astype(np.int64)


def _first_bad(key, bad, what, source):
    if bad.any():
        row = int(np.nonzero(bad.reshape(bad.shape[0], -1).any(1))[0][0])
        _fail(source, key, f"row {row}: {what}")


def _check_values(source, d):
    """Finite scores and boxes, boxes not inverted, object labels >= 1 (0 is background)."""
    for key in ("gt_boxes", "pred_boxes"):
        b = d[key]
        _first_nonfinite(source, key, b, "NaN or inf coordinate")
        _first_bad(key, (b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1]),
                   "inverted box (x2 < x1 or y2 < y1; boxes are xyxy)", source)
    for key in ("pred_scores", "rel_scores"):
        _first_nonfinite(source, key, d[key], "NaN or inf score")
    for key in ("gt_labels", "pred_labels"):
        _first_bad(key, d[key] < 1, "label < 1 (labels are 1..C; 0 is background)", source)


def _first_nonfinite(source, key, arr, what, chunk_rows: int = 1 << 16):
    """Fail on the first row holding a NaN or inf, checking ``chunk_rows`` rows at a time
    (a whole-array mask of a VG-sized ``rel_scores`` would be a copy of a quarter its size),
    the blocks side by side on the available CPUs (reading and ``isfinite`` release the GIL).
    """
    def first_bad_row(start: int) -> int:
        part = arr[start:start + chunk_rows]
        if np.isfinite(part).all():
            return -1
        return start + int(np.argmax(~np.isfinite(part.reshape(part.shape[0], -1)).all(1)))

    starts = range(0, arr.shape[0], chunk_rows)
    bad = next((row for row in map_in_threads(first_bad_row, starts) if row >= 0), -1)
    if bad >= 0:
        _fail(source, key, f"row {bad}: {what}")


def _check_local(source, key, idx, ptr, obj_ptr):
    """Local indices must address an object of their own image."""
    if idx.size == 0:
        return
    counts = np.diff(obj_ptr)
    img = np.repeat(np.arange(counts.size), np.diff(ptr))
    bad = (idx < 0) | (idx >= counts[img][:, None])
    if bad.any():
        row = int(np.nonzero(bad.any(1))[0][0])
        _fail(source, key, f"row {row} (image {img[row]}) indexes an object out of range")


def read_predictions(path: Union[str, Path], mode: str = "predcls",
                     scores_on_disk: bool = False) -> Dict[str, np.ndarray]:
    """Load and validate a predictions ``.npz``.

    ``scores_on_disk``: return ``rel_scores`` as a :class:`~.rows_on_disk.RowsOnDisk` that
    reads the rows a slice asks for (when the file stores it uncompressed as float32, as
    :func:`write_predictions` does), so that a scorer working in chunks of images never holds
    the ``[ΣR, P+1]`` matrix; the validation reads it once, a block at a time."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: predictions file not found")
    on_disk = ("rel_scores",) if scores_on_disk else ()
    return validate_predictions(_read_npz(path, on_disk), mode, source=str(path),
                                require_content=True)


def _read_npz(path: Path, on_disk: Sequence[str] = ()) -> Dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file (those named in ``on_disk`` as :class:`RowsOnDisk`
    where stored uncompressed); anything else raises one line naming the file."""
    def bad(reason: str):
        return PredictionsFormatError(f"{path}: not a predictions .npz ({reason})")

    with open(path, "rb") as fh:
        magic = fh.read(4)
    if not magic:
        raise bad("the file is empty")
    if magic[:2] != b"PK":
        kind = "a .npy array" if magic == b"\x93NUM" else "not a zip archive"
        raise bad(kind)
    try:
        lazy = {}
        for key in on_disk:
            try:
                member = stored_npz_member(path, key)
            except ValueError as e:  # a damaged .npy header inside the archive
                raise zipfile.BadZipFile(f"member {key!r}: {e}") from None
            if member is not None:
                lazy[key] = member
        with np.load(path, allow_pickle=False) as f:
            return {k: lazy[k] if k in lazy else f[k] for k in f.files}
    except ValueError:  # an object array: the interchange format holds plain arrays only
        raise bad("an array needs pickle (object dtype)") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as e:
        raise bad(f"truncated or corrupt archive: {e}" if str(e) else
                  "truncated or corrupt archive") from None


def write_predictions(path: Union[str, Path], data: Dict[str, np.ndarray],
                      mode: Optional[str] = None, compress: bool = False) -> Path:
    """Validate (when ``mode`` is given) and write ``data`` as an ``.npz``, atomically.

    Uncompressed by default: scores compress poorly (random-looking floats), and zip's
    inflate was most of reading a VG-sized file; ``compress=True`` for a smaller file.
    Both read the same."""
    path = Path(path)
    if mode is not None:
        validate_predictions(data, mode, source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    save = np.savez_compressed if compress else np.savez
    save(tmp, **{k: np.asarray(v) for k, v in data.items()})
    tmp.replace(path)
    return path


def concat_predictions(chunks: List[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    """Concatenate per-chunk dicts (each covering some images) into one, shifting pointers.

    Global keys (``num_predicates``, ``train_triplets``, ...) are taken from the first chunk.
    """
    if not chunks:
        raise ValueError("concat_predictions: no chunks")
    out: Dict[str, np.ndarray] = {}
    first = chunks[0]
    ptr_keys = {v for v in PTR_OF.values()}
    for key, value in first.items():
        if key in ptr_keys:
            ptrs = [np.asarray(c[key], dtype=np.int64) for c in chunks]
            offsets = np.cumsum([0] + [int(p[-1]) for p in ptrs[:-1]])
            out[key] = np.concatenate([ptrs[0][:1]] + [p[1:] + o for p, o in zip(ptrs, offsets)])
        elif key in PTR_OF or key in ("image_ids", "image_sizes"):
            out[key] = np.concatenate([np.asarray(c[key]) for c in chunks])
        else:
            out[key] = np.asarray(value)
    return out
