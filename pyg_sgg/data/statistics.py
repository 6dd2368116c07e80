"""Dataset statistics: predicate counts, SGB's frequency-bias table, training / zero-shot /
few-shot triplets. Vectorised over images (arrays are concatenated, then counted).

Triplets are ``(subject class, object class, predicate)`` rows, the order of the
predictions interchange format (``train_triplets``, ``zeroshot_triplets``).
"""
from typing import Tuple

import numpy as np
import torch

from .scene_graph import all_pairs

__all__ = ["gather_arrays", "get_statistics", "frequency_tables", "triplet_counts",
           "zero_shot_mask", "zero_shot_triplets", "few_shot_bins", "few_shot_bin_index",
           "DEFAULT_FEW_SHOT_BINS"]

DEFAULT_FEW_SHOT_BINS = ((1, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, 10 ** 9))


def gather_arrays(dataset) -> dict:
    """Concatenated ground truth of ``dataset``: ``labels [ΣN]``, ``boxes [ΣN, 4]``,
    ``obj_ptr [I + 1]``, ``triplet_index [ΣM, 3]`` (GLOBAL subject, GLOBAL object, predicate).

    Uses ``dataset.split_arrays()`` when the dataset offers it (VGDataset: the whole split,
    duplicates kept, as SGB's statistics read it); otherwise reads ``dataset[i]``
    (``labels``, ``boxes``, ``gt_rel_index``, ``gt_rel_label``).
    """
    if hasattr(dataset, "split_arrays"):  # VGDataset: no image or graph is built
        raw = dataset.split_arrays()
        obj_ptr = np.asarray(raw["obj_ptr"], np.int64)
        rel_ptr = np.asarray(raw["rel_ptr"], np.int64)
        rels = np.asarray(raw["relations"], np.int64).reshape(-1, 3)
        img = np.repeat(np.arange(len(rel_ptr) - 1), np.diff(rel_ptr))
        tri = rels.copy()
        tri[:, :2] += obj_ptr[img][:, None]
        boxes = raw.get("boxes_scaled", raw["boxes"])  # SGB counts overlaps at box_scale
        return {"labels": np.asarray(raw["labels"], np.int64).reshape(-1),
                "boxes": np.asarray(boxes, np.float64).reshape(-1, 4), "obj_ptr": obj_ptr,
                "triplet_index": tri}
    labels, boxes, rels, counts = [], [], [], []
    offset = 0
    for i in range(len(dataset)):
        g = dataset[i]
        n = int(g.labels.numel())
        labels.append(g.labels.reshape(-1))
        boxes.append(g.boxes.reshape(-1, 4).float())
        rels.append(torch.cat([g.gt_rel_index.t().long() + offset,
                               g.gt_rel_label.reshape(-1, 1).long()], 1))
        counts.append(n)
        offset += n
    cat = (lambda xs, shape: torch.cat(xs).numpy() if xs else np.zeros(shape))
    return {"labels": cat(labels, (0,)).astype(np.int64),
            "boxes": cat(boxes, (0, 4)).astype(np.float64),
            "obj_ptr": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            "triplet_index": cat(rels, (0, 3)).astype(np.int64).reshape(-1, 3)}


#: ordered pairs per chunk of :func:`frequency_tables`'s background count
_PAIR_CHUNK = 2_000_000


def frequency_tables(labels, boxes, obj_ptr, triplet_index, num_classes: int,
                     num_predicates: int, must_overlap: bool = True):
    """SGB's ``get_VG_statistics`` on concatenated arrays.

    ``fg [C+1, C+1, P+1]`` counts every annotated (subject class, object class, predicate);
    ``bg [C+1, C+1]`` counts every ordered pair of distinct boxes of an image whose boxes
    intersect (area > 0), related or not; an image without any such pair counts all its
    ordered pairs (``must_overlap=False``: always all pairs).

    Args:
        labels: ``[ΣN]`` classes 1..C; boxes: ``[ΣN, 4]`` xyxy; obj_ptr: ``[I + 1]``;
        triplet_index: ``[ΣM, 3]`` global subject, global object, predicate 1..P.

    Returns:
        (fg, bg) int64 arrays.
    """
    labels = np.asarray(labels, np.int64).reshape(-1)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    obj_ptr = np.asarray(obj_ptr, np.int64).reshape(-1)
    tri = np.asarray(triplet_index, np.int64).reshape(-1, 3)
    C1, P1 = num_classes + 1, num_predicates + 1
    # bincount of flat indices: np.add.at's result, ~100x faster on millions of pairs
    fg = np.bincount((labels[tri[:, 0]] * C1 + labels[tri[:, 1]]) * P1 + tri[:, 2],
                     minlength=C1 * C1 * P1).astype(np.int64).reshape(C1, C1, P1)
    bg = np.zeros(C1 * C1, np.int64)
    counts = np.diff(obj_ptr)
    # images in chunks of about 2M ordered pairs: the same counts, bounded memory at VG size
    cum = np.cumsum(counts * (counts - 1))
    total = int(cum[-1]) if len(cum) else 0
    cuts = np.searchsorted(cum, np.arange(_PAIR_CHUNK, total, _PAIR_CHUNK), side="right")
    bounds = np.unique(np.r_[0, cuts, len(counts)])
    for start, end in zip(bounds[:-1], bounds[1:]):
        sl = slice(start, end)
        pairs = all_pairs(torch.from_numpy(counts[sl]),
                          torch.from_numpy(obj_ptr[start:end + 1])).numpy()
        if not pairs.shape[1]:
            continue
        a, b = boxes[pairs[0]], boxes[pairs[1]]
        iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
        ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
        keep = np.ones(pairs.shape[1], bool)
        if must_overlap:
            over = (iw.clip(min=0) * ih.clip(min=0)) > 0
            c = counts[sl]
            img = np.repeat(np.arange(len(c)), c * (c - 1))
            has_over = np.bincount(img[over], minlength=len(c)) > 0
            keep = over | ~has_over[img]
        bg += np.bincount(labels[pairs[0, keep]] * C1 + labels[pairs[1, keep]],
                          minlength=C1 * C1).astype(np.int64)
    bg = bg.reshape(C1, C1)
    return fg, bg


def _keys(t: np.ndarray, base: int) -> np.ndarray:
    t = np.asarray(t, np.int64).reshape(-1, 3)
    return (t[:, 0] * base + t[:, 1]) * base + t[:, 2]


def _base(*arrays) -> int:
    m = [int(np.asarray(a).max()) for a in arrays if np.asarray(a).size]
    return max(m + [0]) + 1


def triplet_counts(triplets) -> Tuple[np.ndarray, np.ndarray]:
    """Distinct ``(subject class, object class, predicate)`` rows ``[T, 3]`` and their counts
    ``[T]`` (sorted lexicographically)."""
    t = np.asarray(triplets, np.int64).reshape(-1, 3)
    uniq, cnt = np.unique(t, axis=0, return_counts=True)
    return uniq.reshape(-1, 3), cnt.astype(np.int64)


def zero_shot_mask(train_triplets, test_triplets) -> np.ndarray:
    """``[T_test]`` bool: the test triplet never occurs in ``train_triplets``."""
    base = _base(train_triplets, test_triplets)
    return ~np.isin(_keys(test_triplets, base), _keys(train_triplets, base))


def few_shot_bin_index(train_counts, query_triplets, bins=DEFAULT_FEW_SHOT_BINS) -> np.ndarray:
    """For each query triplet, the index of the bin ``(lo, hi)`` (inclusive) holding its
    training count (a triplet absent from train has count 0); -1 if no bin holds it."""
    uniq, cnt = train_counts
    q = np.asarray(query_triplets, np.int64).reshape(-1, 3)
    base = _base(uniq, q)
    ku, kq = _keys(uniq, base), _keys(q, base)
    order = np.argsort(ku)
    pos = np.searchsorted(ku[order], kq)
    pos_c = np.minimum(pos, max(len(ku) - 1, 0))
    found = (pos < len(ku)) & (ku[order][pos_c] == kq) if len(ku) else np.zeros(len(kq), bool)
    c = np.where(found, cnt[order][pos_c] if len(ku) else 0, 0)
    out = np.full(len(q), -1, np.int64)
    for k, (lo, hi) in enumerate(bins):  # loop over bins only
        out[(c >= lo) & (c <= hi) & (out < 0)] = k
    return out


def few_shot_bins(train_counts, query_triplets=None, bins=DEFAULT_FEW_SHOT_BINS):
    """Few-shot bins by training count.

    With ``query_triplets`` (e.g. the test relations): the number of query rows per bin
    (``int64 [len(bins)]``). Without: the training triplets of each bin (a list of
    ``[T_b, 3]`` arrays), e.g. for fsR@K's "1-5", "6-10", ... groups.
    """
    uniq, cnt = train_counts
    if query_triplets is None:
        return [uniq[(cnt >= lo) & (cnt <= hi)] for lo, hi in bins]
    idx = few_shot_bin_index(train_counts, query_triplets, bins)
    return np.bincount(idx[idx >= 0], minlength=len(bins))[:len(bins)]


def _triplets(arr: dict) -> np.ndarray:
    t = arr["triplet_index"]
    lab = arr["labels"]
    return np.stack([lab[t[:, 0]], lab[t[:, 1]], t[:, 2]], 1).reshape(-1, 3)


def zero_shot_triplets(train_ds, test_ds) -> np.ndarray:
    """Distinct test triplets ``[Z, 3]`` (subject class, object class, predicate) that never
    occur in ``train_ds``."""
    tr, te = _triplets(gather_arrays(train_ds)), _triplets(gather_arrays(test_ds))
    zs = te[zero_shot_mask(tr, te)]
    return triplet_counts(zs)[0]


def get_statistics(dataset, must_overlap: bool = True, eps: float = 1e-3) -> dict:
    """Statistics of a (training) dataset exposing the VG loader API, SGB semantics.

    Returns:
        dict with ``fg_matrix [C+1, C+1, P+1]`` (``fg[..., 0]`` = background pair counts + 1),
        ``bg_matrix [C+1, C+1]``, ``pred_dist = log(fg / fg.sum(2) + eps)`` (float32 tensor),
        ``predicate_counts [P+1]`` (index 0: 0), ``train_triplets [T, 3]``,
        ``triplet_counts [T]``, ``obj_classes``, ``rel_classes``.
    """
    num_classes = len(dataset.object_classes) - 1
    num_predicates = len(dataset.predicate_classes) - 1
    arr = gather_arrays(dataset)
    fg, bg = frequency_tables(arr["labels"], arr["boxes"], arr["obj_ptr"],
                              arr["triplet_index"], num_classes, num_predicates, must_overlap)
    fg = fg.copy()
    fg[:, :, 0] = bg + 1  # SGB: bg_matrix += 1; fg_matrix[:, :, 0] = bg_matrix
    pred_dist = np.log(fg / fg.sum(2, keepdims=True) + eps)
    pc = np.bincount(arr["triplet_index"][:, 2], minlength=num_predicates + 1)
    pc[0] = 0
    uniq, cnt = triplet_counts(_triplets(arr))
    return {
        "fg_matrix": torch.from_numpy(fg),
        "bg_matrix": torch.from_numpy(bg),
        "pred_dist": torch.from_numpy(pred_dist).float(),
        "predicate_counts": torch.from_numpy(pc.astype(np.int64)),
        "train_triplets": torch.from_numpy(uniq),
        "triplet_counts": torch.from_numpy(cnt),
        "obj_classes": list(dataset.object_classes),
        "rel_classes": list(dataset.predicate_classes),
    }
