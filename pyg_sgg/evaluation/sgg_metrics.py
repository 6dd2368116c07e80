"""SGG metrics as Scene-Graph-Benchmark.pytorch (SGB) computes them, vectorised over images.

Every step works on all images at once with pointer (segment) arithmetic: rankings are
``np.lexsort`` over ``(image, -score)``, triplet matching is a sorted join on
``(image, subject class, object class, predicate)`` keys followed by a vectorised IoU test,
and per-image recalls are ``np.bincount`` reductions.

Semantics (identical to SGB):

* an image is evaluated only if it has ≥ 1 GT relation **and** ≥ 1 scored pair;
* graph constraint: each pair predicts ``argmax`` over columns ``1..P`` (ties → lowest id),
  rows ranked by ``max score × subject score × object score`` (float32, stable: ties keep
  file order), first ``K`` kept;
* no graph constraint: every ``(pair, predicate ≥ 1)`` scored
  ``subject × object × predicate score``; the top 100 kept (ties → earlier pair, then lower
  predicate), then the first ``K``;
* a prediction matches a GT row when both classes and the predicate agree and subject and
  object IoU ("+1 pixel" areas, float32) are ≥ 0.5; no one-to-one assignment;
* R@K is the mean per-image recall; mR@K averages each predicate's per-image recall over the
  images containing it and sums over all ``P`` predicates / ``P``; zR@K and fsR@K restrict
  the GT rows (images without such rows are skipped); A@K and aR@K are ratios of sums.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .interchange import PTR_OF
from .parallel import map_in_threads

DEFAULT_KS = (20, 50, 100)
DEFAULT_FEWSHOT_BINS = ((1, 5), (6, 10), (11, 15), (16, 20), (21, 25))
NG_TOP = 100  # SGB keeps the top 100 (pair, predicate) entries without graph constraint
NO_HIT = np.iinfo(np.int64).max
CHUNK_PAIRS = 65_536  # scored pairs a thread ranks and matches at once (cache-sized work)


def _segment_ids(ptr: np.ndarray) -> np.ndarray:
    """``[ptr[-1]]`` segment (image) id of each row."""
    return np.repeat(np.arange(ptr.size - 1), np.diff(ptr))


def box_iou_plus1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of ``a [n, 4]`` and ``b [n, 4]`` with SGB's "+1 pixel" areas, float32."""
    a = a.astype(np.float32, copy=False)
    b = b.astype(np.float32, copy=False)
    one = np.float32(1)
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + one
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + one
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    area_a = (a[:, 2] - a[:, 0] + one) * (a[:, 3] - a[:, 1] + one)
    area_b = (b[:, 2] - b[:, 0] + one) * (b[:, 3] - b[:, 1] + one)
    return inter / (area_a + area_b - inter)


def _rank_within_segments(seg: np.ndarray, ptr: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rank of each row inside its segment, given ``order`` sorted by segment first."""
    rank = np.empty(seg.size, dtype=np.int64)
    rank[order] = np.arange(seg.size) - ptr[seg[order]]
    return rank


def _order_by_segment_then_score(seg: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Stable order by segment ascending, then score descending (ties keep array order).

    Non-negative float32 scores sort like their bit patterns, so one ``uint64`` key
    ``(segment << 32) | ~bits`` replaces a two-key ``lexsort``.
    """
    score = np.asarray(score, dtype=np.float32) + np.float32(0)  # -0.0 → +0.0
    if score.size and not (score.min() >= 0):  # negative or NaN scores: general path
        return np.lexsort((-score, seg))
    key = (seg.astype(np.uint64) << np.uint64(32)) | (
        np.uint64(0xFFFFFFFF) - score.view(np.uint32).astype(np.uint64))
    order = np.argsort(key)  # numpy's vectorised sort: ≈ 3× the stable one, not stable
    ranked = key[order]
    if (ranked[1:] == ranked[:-1]).any():  # tied keys: their order must be the array's
        order = np.argsort(key, kind="stable")
    return order


class _Ranked:
    """Predicted triplets with their rank inside their image (only ranks < ``limit``)."""

    def __init__(self, img, sub, obj, pred, rank):
        self.img, self.sub, self.obj, self.pred, self.rank = img, sub, obj, pred, rank


def _first_hit_rank(d: Dict[str, np.ndarray], gt: Dict[str, np.ndarray], pr: _Ranked,
                    iou_threshold: float) -> np.ndarray:
    """``[M]`` smallest rank of a prediction matching each GT row (``NO_HIT`` if none).

    ``gt`` holds global object indices ``sub``/``obj``, ``pred`` and ``img`` per GT row; ``pr``
    holds global predicted-object indices. A GT row is recalled at ``K`` iff its value < K.
    """
    m = gt["img"].size
    first = np.full(m, NO_HIT, dtype=np.int64)
    if m == 0 or pr.img.size == 0:
        return first
    C = int(max(d["gt_labels"].max(initial=0), d["pred_labels"].max(initial=0))) + 1
    P1 = int(d["num_predicates"]) + 1

    def key(img, sc, oc, p):
        return ((img * C + sc) * C + oc) * P1 + p

    gt_key = key(gt["img"], d["gt_labels"][gt["sub"]], d["gt_labels"][gt["obj"]], gt["pred"])
    pr_key = key(pr.img, d["pred_labels"][pr.sub], d["pred_labels"][pr.obj], pr.pred)
    order = np.argsort(pr_key, kind="stable")
    sorted_key = pr_key[order]
    lo = np.searchsorted(sorted_key, gt_key, side="left")
    n = np.searchsorted(sorted_key, gt_key, side="right") - lo
    total = int(n.sum())
    if total == 0:
        return first
    gt_rep = np.repeat(np.arange(m), n)
    within = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
    cand = order[np.repeat(lo, n) + within]
    ok = ((box_iou_plus1(d["gt_boxes"][gt["sub"][gt_rep]], d["pred_boxes"][pr.sub[cand]])
           >= iou_threshold)
          & (box_iou_plus1(d["gt_boxes"][gt["obj"][gt_rep]], d["pred_boxes"][pr.obj[cand]])
             >= iou_threshold))
    np.minimum.at(first, gt_rep[ok], pr.rank[cand[ok]])
    return first


def _graph_constrained(d, rel_img, rel_sub, rel_obj, order_mode: str):
    """Per scored pair (graph constraint): predicate, its score (the best foreground
    column), the product of its objects' scores and its rank."""
    scores = d["rel_scores"]
    pred = scores[:, 1:].argmax(1) + 1 if scores.shape[0] else np.zeros(0, dtype=np.int64)
    top = scores[np.arange(scores.shape[0]), pred].astype(np.float32)
    sub_score = d["pred_scores"][rel_sub].astype(np.float32, copy=False)
    obj_score = d["pred_scores"][rel_obj].astype(np.float32, copy=False)
    obj_prod = sub_score * obj_score
    triplet_score = top * sub_score * obj_score  # SGB's post-processor: (rel × sub) × obj
    if order_mode == "file":
        rank = np.arange(rel_img.size) - d["rel_ptr"][rel_img]
    elif order_mode == "score":
        order = _order_by_segment_then_score(rel_img, triplet_score)
        rank = _rank_within_segments(rel_img, d["rel_ptr"], order)
    else:
        raise ValueError(f"order must be 'score' or 'file', got {order_mode!r}")
    return pred.astype(np.int64), top, obj_prod, rank


def _no_graph_constraint(d, rel_img, rel_sub, rel_obj, obj_prod, row_max=None,
                         chunk_rows: int = 32_768) -> _Ranked:
    """The top :data:`NG_TOP` (pair, predicate) entries of each image, ranked.

    Exact, but only entries that can reach the top are sorted: the ``NG_TOP``-th largest
    of a subset of an image's entries (its rows' maxima, or its rows' ``T`` best) bounds the
    image's ``NG_TOP``-th largest entry from below, so entries under it are dropped first.
    ``row_max``: each row's largest entry if known (the graph-constrained triplet score is,
    when ``obj_prod >= 0``: rounding a product is monotonic in the factor, so the largest
    rounded product is the rounded product of the largest score). ``chunk_rows``: rows of
    entries made at once (a few MB: they stay in cache).
    """
    ptr = d["rel_ptr"]
    num_images = ptr.size - 1
    scores = d["rel_scores"]
    R, P = scores.shape[0], scores.shape[1] - 1
    T = min(P, 4)

    def entry_scores(start, stop):
        return np.multiply(scores[start:stop, 1:], obj_prod[start:stop, None],
                           dtype=np.float32)

    # Lower bound per image: the NG_TOP-th largest row maximum where an image has at least
    # NG_TOP rows; else the NG_TOP-th largest of its rows' T best entries (if enough).
    if row_max is None:
        row_max = np.empty(R, dtype=np.float32)
        for start in range(0, R, chunk_rows):
            stop = min(start + chunk_rows, R)
            row_max[start:stop] = entry_scores(start, stop).max(1) if P else 0
    counts = np.diff(ptr)
    thresh = np.full(num_images, -np.inf, dtype=np.float32)
    big = counts >= NG_TOP
    if big.any():
        order = _order_by_segment_then_score(rel_img, row_max)
        thresh[big] = row_max[order[ptr[:-1][big] + NG_TOP - 1]]
    mid = ~big & (counts * T >= NG_TOP)
    if mid.any() and T > 1:
        rows_mid = np.nonzero(mid[rel_img])[0]
        s = np.multiply(scores[rows_mid, 1:], obj_prod[rows_mid, None], dtype=np.float32)
        top = s if T == P else np.partition(s, P - T, axis=1)[:, P - T:]
        vals, val_img = top.ravel(), np.repeat(rel_img[rows_mid], T)
        val_ptr = np.concatenate([[0], np.cumsum(np.bincount(val_img, minlength=num_images))])
        order = _order_by_segment_then_score(val_img, vals)
        thresh[mid] = vals[order[val_ptr[:-1][mid] + NG_TOP - 1]]
    # Only a row whose largest entry reaches its image's bound can hold a kept entry.
    cand = np.nonzero(row_max >= thresh[rel_img])[0]
    rows, preds, kept = [], [], []
    for start in range(0, cand.size, chunk_rows):
        r_cand = cand[start:start + chunk_rows]
        if r_cand.size == r_cand[-1] - r_cand[0] + 1:  # a run of rows: a view, no gather
            s = entry_scores(int(r_cand[0]), int(r_cand[-1]) + 1)
        else:
            s = np.multiply(scores[r_cand, 1:], obj_prod[r_cand, None], dtype=np.float32)
        r, p = np.nonzero(s >= thresh[rel_img[r_cand], None])
        rows.append(r_cand[r])
        preds.append(p + 1)
        kept.append(s[r, p])
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    pred = np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)
    val = np.concatenate(kept) if kept else np.zeros(0, dtype=np.float32)
    img = rel_img[row]
    order = _order_by_segment_then_score(img, val)  # entries are in (row, pred) order
    entry_ptr = np.concatenate([[0], np.cumsum(np.bincount(img, minlength=num_images))])
    rank = _rank_within_segments(img, entry_ptr, order)
    keep = rank < NG_TOP
    return _Ranked(img[keep], rel_sub[row[keep]], rel_obj[row[keep]], pred[keep].astype(np.int64),
                   rank[keep])


def _image_chunks(rel_ptr: np.ndarray, max_pairs: int) -> List[Tuple[int, int]]:
    """``[(first image, stop image)]`` covering every image, each of about ``max_pairs``
    scored pairs (an image is never split)."""
    n = rel_ptr.size - 1
    total = int(rel_ptr[-1])
    cuts = np.searchsorted(rel_ptr, np.arange(max_pairs, total, max(1, int(max_pairs))))
    cuts = np.unique(cuts[(cuts > 0) & (cuts < n)]).tolist()
    return list(zip([0] + cuts, cuts + [n]))


def _image_slice(d: Dict[str, np.ndarray], a: int, b: int) -> Dict[str, np.ndarray]:
    """Images ``a .. b - 1`` of a validated predictions dict (views; pointers rebased)."""
    out = dict(d)
    for ptr_key in set(PTR_OF.values()):
        out[ptr_key] = d[ptr_key][a:b + 1] - d[ptr_key][a]
    for key, ptr_key in PTR_OF.items():
        if key in d:
            out[key] = d[key][int(d[ptr_key][a]):int(d[ptr_key][b])]
    return out


def _gt_rows(d: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Per GT relation: its image and its subject / object as indices into ``gt_*``."""
    img = _segment_ids(d["gt_rel_ptr"])
    return {"img": img, "sub": d["gt_rels"][:, 0] + d["gt_obj_ptr"][img],
            "obj": d["gt_rels"][:, 1] + d["gt_obj_ptr"][img], "pred": d["gt_rels"][:, 2]}


def _first_hits(d: Dict[str, np.ndarray], mode: str, limit: int, order: str,
                iou_threshold: float):
    """``(first_gc, first_ng, first_acc)``: per GT row of ``d``, the smallest rank of a
    matching prediction with graph constraint, without, and among the predictions on GT
    pairs (A@K; ``None`` in SGDet)."""
    num_images = d["gt_obj_ptr"].size - 1
    gt = _gt_rows(d)
    rel_img = _segment_ids(d["rel_ptr"])
    rel_sub = d["rel_pair_idx"][:, 0] + d["pred_obj_ptr"][rel_img]
    rel_obj = d["rel_pair_idx"][:, 1] + d["pred_obj_ptr"][rel_img]

    pred, top, obj_prod, rank = _graph_constrained(d, rel_img, rel_sub, rel_obj, order)
    keep = rank < limit
    gc = _Ranked(rel_img[keep], rel_sub[keep], rel_obj[keep], pred[keep], rank[keep])
    first_gc = _first_hit_rank(d, gt, gc, iou_threshold)
    nonneg = obj_prod.size == 0 or obj_prod.min() >= 0
    ng = _no_graph_constraint(d, rel_img, rel_sub, rel_obj, obj_prod,
                              row_max=obj_prod * top if nonneg else None)
    first_ng = _first_hit_rank(d, gt, ng, iou_threshold)

    first_acc = None
    if mode in ("predcls", "sgcls"):
        # A@K: only predictions on a GT pair, re-ranked among themselves.
        n_obj = int(max(d["gt_obj_ptr"][-1], d["pred_obj_ptr"][-1])) + 1
        pair_key = rel_sub * n_obj + rel_obj
        gt_pair = np.unique(gt["sub"] * n_obj + gt["obj"])  # sorted
        pos = np.minimum(np.searchsorted(gt_pair, pair_key), max(gt_pair.size - 1, 0))
        sel = np.nonzero(gt_pair[pos] == pair_key)[0] if gt_pair.size else pos[:0]
        # (image, rank) keys are unique (a rank is unique within its image): any sort is stable
        sel = sel[np.argsort((rel_img[sel].astype(np.uint64) << np.uint64(32))
                             | rank[sel].astype(np.uint64))]
        sub_ptr = np.concatenate([[0], np.cumsum(np.bincount(rel_img[sel],
                                                             minlength=num_images))])
        acc_rank = np.arange(sel.size) - sub_ptr[rel_img[sel]]
        k_sel = acc_rank < limit
        acc = _Ranked(rel_img[sel][k_sel], rel_sub[sel][k_sel], rel_obj[sel][k_sel],
                      pred[sel][k_sel], acc_rank[k_sel])
        first_acc = _first_hit_rank(d, gt, acc, iou_threshold)
    return first_gc, first_ng, first_acc


def _mean_over(values: np.ndarray, weights: np.ndarray) -> Optional[float]:
    return float(values[weights].mean()) if weights.any() else None


def _per_image_recall(hit: np.ndarray, gt_img: np.ndarray, rows: np.ndarray,
                      evaluated: np.ndarray) -> Optional[float]:
    """Mean over evaluated images with ≥ 1 row in ``rows`` of hits / rows."""
    n = evaluated.size
    count = np.bincount(gt_img[rows], minlength=n)
    hits = np.bincount(gt_img[rows & hit], minlength=n)
    use = evaluated & (count > 0)
    return _mean_over(hits / np.maximum(count, 1), use)


def _per_predicate_recall(hit, gt_img, gt_pred, evaluated, P) -> np.ndarray:
    """``[P + 1]`` per-predicate recall (mean over evaluated images containing it)."""
    n = evaluated.size
    valid = evaluated[gt_img]
    key = gt_img[valid] * (P + 1) + gt_pred[valid]
    count = np.bincount(key, minlength=n * (P + 1)).reshape(n, P + 1)
    hits = np.bincount(key[hit[valid]], minlength=n * (P + 1)).reshape(n, P + 1)
    present = count > 0
    ratio = np.where(present, hits / np.maximum(count, 1), 0.0)
    num_images = present.sum(0)
    return np.where(num_images > 0, ratio.sum(0) / np.maximum(num_images, 1), 0.0)


def _triplet_lookup(gt_trip: np.ndarray, table: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``[M]`` count of each GT triplet in ``table`` (0 when absent)."""
    if table.size == 0 or gt_trip.size == 0:
        return np.zeros(len(gt_trip), dtype=np.int64)
    base = int(max(table.max(), gt_trip.max())) + 1
    tk = (table[:, 0] * base + table[:, 1]) * base + table[:, 2]
    uk, inv = np.unique(tk, return_inverse=True)
    ucounts = np.bincount(inv.ravel(), weights=counts).astype(np.int64)
    gk = (gt_trip[:, 0] * base + gt_trip[:, 1]) * base + gt_trip[:, 2]
    pos = np.clip(np.searchsorted(uk, gk), 0, uk.size - 1)
    return np.where(uk[pos] == gk, ucounts[pos], 0)


def evaluate_predictions(data: Dict[str, np.ndarray], mode: str,
                         ks: Sequence[int] = DEFAULT_KS, order: str = "score",
                         fewshot_bins: Sequence[Tuple[int, int]] = DEFAULT_FEWSHOT_BINS,
                         iou_threshold: float = 0.5,
                         chunk_pairs: int = CHUNK_PAIRS,
                         threads: Optional[int] = None) -> Dict[str, dict]:
    """All metrics of a validated predictions dict (see :mod:`.interchange`).

    Args:
        data (dict): validated arrays (:func:`~.interchange.validate_predictions`).
        mode (str): ``"predcls"``, ``"sgcls"`` or ``"sgdet"`` (A@K only in the first two).
        ks (sequence of int): recall cut-offs. (default: ``(20, 50, 100)``)
        order (str): ``"score"`` ranks pairs by triplet score; ``"file"`` keeps the file's
            order. (default: ``"score"``)
        fewshot_bins (sequence): inclusive training-count ranges for fsR@K.
        chunk_pairs (int): images are ranked and matched in chunks of about this many
            scored pairs, one chunk per thread at a time (the scorer's memory is bounded by
            ``threads × chunk_pairs``, not by the file).
        threads (int, optional): chunks scored side by side; the results do not depend
            on it. (default: the CPUs this process may use)

    Returns:
        dict: ``{"metrics": {name: float | None}, "per_predicate": {name: {"R@K": …,
        "ng-R@K": …}}, "counts": {…}}`` with recalls as fractions.
    """
    d = data
    ks = tuple(int(k) for k in ks)
    P = int(d["num_predicates"])
    num_images = d["gt_obj_ptr"].size - 1
    evaluated = (np.diff(d["gt_rel_ptr"]) > 0) & (np.diff(d["rel_ptr"]) > 0)
    gt = _gt_rows(d)
    gt_img = gt["img"]

    def first_hits(chunk):
        return _first_hits(_image_slice(d, *chunk), mode, max(ks), order, iou_threshold)

    parts = list(map_in_threads(first_hits, _image_chunks(d["rel_ptr"], chunk_pairs), threads))
    first_gc, first_ng = (np.concatenate([p[i] for p in parts]) for i in (0, 1))
    first_acc = (np.concatenate([p[2] for p in parts])
                 if mode in ("predcls", "sgcls") else None)

    gt_trip = np.stack([d["gt_labels"][gt["sub"]], d["gt_labels"][gt["obj"]], gt["pred"]], 1)
    zero_shot = None
    if "zeroshot_triplets" in d:
        table = d["zeroshot_triplets"]
        zero_shot = _triplet_lookup(gt_trip, table, np.ones(len(table))) > 0
    train_count = None
    if "train_triplets" in d:
        table = d["train_triplets"]
        counts = d.get("train_triplet_counts", np.ones(len(table)))
        train_count = _triplet_lookup(gt_trip, table, np.asarray(counts, dtype=np.float64))
        if zero_shot is None:
            zero_shot = train_count == 0

    all_rows = np.ones(gt_img.size, dtype=bool)
    ev_rows = evaluated[gt_img]
    names = d.get("predicate_names")
    names = ([str(n) for n in names] if names is not None
             else ["__background__"] + [str(p) for p in range(1, P + 1)])
    metrics: Dict[str, Optional[float]] = {}
    per_predicate: Dict[str, Dict[str, float]] = {names[p]: {} for p in range(1, P + 1)}
    for k in ks:
        hit, hit_ng = first_gc < k, first_ng < min(k, NG_TOP)
        metrics[f"R@{k}"] = _per_image_recall(hit, gt_img, all_rows, evaluated)
        metrics[f"ng-R@{k}"] = _per_image_recall(hit_ng, gt_img, all_rows, evaluated)
        pp = _per_predicate_recall(hit, gt_img, gt["pred"], evaluated, P)
        pp_ng = _per_predicate_recall(hit_ng, gt_img, gt["pred"], evaluated, P)
        metrics[f"mR@{k}"] = float(pp[1:].sum() / P)
        metrics[f"ng-mR@{k}"] = float(pp_ng[1:].sum() / P)
        for p in range(1, P + 1):
            per_predicate[names[p]][f"R@{k}"] = float(pp[p])
            per_predicate[names[p]][f"ng-R@{k}"] = float(pp_ng[p])
        if zero_shot is not None:
            metrics[f"zR@{k}"] = _per_image_recall(hit, gt_img, zero_shot, evaluated)
            metrics[f"ng-zR@{k}"] = _per_image_recall(hit_ng, gt_img, zero_shot, evaluated)
        else:
            metrics[f"zR@{k}"] = metrics[f"ng-zR@{k}"] = None
        total = int(ev_rows.sum())
        if first_acc is not None and total:
            metrics[f"A@{k}"] = float((first_acc[ev_rows] < k).sum() / total)
        else:
            metrics[f"A@{k}"] = None
        metrics[f"aR@{k}"] = float(hit[ev_rows].sum() / total) if total else None
        r, m = metrics[f"R@{k}"], metrics[f"mR@{k}"]
        metrics[f"Mean@{k}"] = (r + m) / 2 if r is not None else None
        for lo, hi in fewshot_bins:
            name = f"fsR@{k}[{lo}-{hi}]"
            if train_count is None:
                metrics[name] = None
            else:
                rows = (train_count >= lo) & (train_count <= hi)
                metrics[name] = _per_image_recall(hit, gt_img, rows, evaluated)
    gt_counts = np.bincount(gt["pred"][ev_rows], minlength=P + 1)
    counts = {"num_images": int(num_images), "num_evaluated_images": int(evaluated.sum()),
              "num_gt_relations": int(ev_rows.sum()), "num_scored_pairs": int(d["rel_ptr"][-1]),
              "num_zeroshot_gt_relations": (int(zero_shot[ev_rows].sum())
                                            if zero_shot is not None else None),
              "gt_relations_per_predicate": {names[p]: int(gt_counts[p])
                                             for p in range(1, P + 1)}}
    return {"metrics": metrics, "per_predicate": per_predicate, "counts": counts}


def metric_names(ks: Sequence[int] = DEFAULT_KS,
                 fewshot_bins: Sequence[Tuple[int, int]] = DEFAULT_FEWSHOT_BINS) -> List[str]:
    """The metric keys :func:`evaluate_predictions` reports, in table order."""
    out = []
    for k in ks:
        out += [f"R@{k}", f"ng-R@{k}", f"mR@{k}", f"ng-mR@{k}", f"zR@{k}", f"ng-zR@{k}",
                f"A@{k}", f"aR@{k}", f"Mean@{k}"]
        out += [f"fsR@{k}[{lo}-{hi}]" for lo, hi in fewshot_bins]
    return out
