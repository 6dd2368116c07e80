"""The vectorised metrics equal the simple per-image reference on random prediction files."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_sgg.evaluation import evaluate_predictions, validate_predictions

from .simple_reference import reference_metrics

KS = (1, 3, 5)


def random_file(seed: int, mode: str):
    rng = np.random.default_rng(seed)
    num_images, P, C = int(rng.integers(1, 6)), 3, 4
    d = {k: [] for k in ("gt_boxes", "gt_labels", "gt_rels", "pred_boxes", "pred_labels",
                         "pred_scores", "rel_pair_idx", "rel_scores")}
    ptr = {k: [0] for k in ("gt_obj_ptr", "gt_rel_ptr", "pred_obj_ptr", "rel_ptr")}
    for _ in range(num_images):
        n = int(rng.integers(0, 5))
        boxes = rng.integers(0, 30, size=(n, 2)).astype(np.float32)
        boxes = np.concatenate([boxes, boxes + rng.integers(1, 20, size=(n, 2))], 1)
        if n > 1 and rng.random() < 0.3:
            boxes[1] = boxes[0]  # duplicate boxes
        labels = rng.integers(1, C + 1, size=n)
        m = int(rng.integers(0, 5)) if n > 1 else 0
        rels = []
        for _ in range(m):
            s, o = rng.choice(n, 2, replace=False)
            rels.append((s, o, int(rng.integers(1, P + 1))))
        if rels and rng.random() < 0.3:
            rels.append(rels[0])  # duplicate GT row
        if mode == "sgdet":
            k = int(rng.integers(0, 8))
            src = rng.integers(0, max(n, 1), size=k) if n else np.zeros(k, int)
            corners = np.sort(rng.integers(0, 30, size=(k, 2, 2)), axis=1)  # valid xyxy
            pboxes = boxes[src] if n else corners.reshape(k, 4).astype(np.float32)
            shift = rng.choice([0.0, 0.0, 2.0, 8.0], size=(k, 1)).astype(np.float32)
            pboxes = pboxes + shift  # some IoUs stay >= 0.5, some drop below
            plabels = (labels[src] if n else rng.integers(1, C + 1, size=k))
            plabels = np.where(rng.random(k) < 0.2, rng.integers(1, C + 1, size=k), plabels)
            pscores = rng.choice([0.5, 0.8, 1.0], size=k).astype(np.float32)
        else:
            k, pboxes, plabels = n, boxes, labels
            pscores = (np.ones(n, np.float32) if mode == "predcls"
                       else rng.choice([0.5, 0.8, 1.0], size=n).astype(np.float32))
        pairs = [(s, o) for s in range(k) for o in range(k) if s != o]
        if pairs:
            keep = rng.random(len(pairs)) < 0.8
            pairs = [p for p, f in zip(pairs, keep) if f]
        scores = rng.choice([0.1, 0.2, 0.5], size=(len(pairs), P + 1)).astype(np.float32)
        d["gt_boxes"] += list(boxes)
        d["gt_labels"] += list(labels)
        d["gt_rels"] += rels
        d["pred_boxes"] += list(pboxes)
        d["pred_labels"] += list(plabels)
        d["pred_scores"] += list(pscores)
        d["rel_pair_idx"] += pairs
        d["rel_scores"] += list(scores)
        for key, cnt in (("gt_obj_ptr", n), ("gt_rel_ptr", len(rels)), ("pred_obj_ptr", k),
                         ("rel_ptr", len(pairs))):
            ptr[key].append(ptr[key][-1] + cnt)
    out = {"num_predicates": np.asarray(P)}
    shapes = {"gt_boxes": (-1, 4), "pred_boxes": (-1, 4), "gt_rels": (-1, 3),
              "rel_pair_idx": (-1, 2), "rel_scores": (-1, P + 1)}
    for key, val in d.items():
        arr = np.asarray(val)
        out[key] = arr.reshape(shapes[key]) if key in shapes else arr.reshape(-1)
    out.update({k: np.asarray(v) for k, v in ptr.items()})
    trip = rng.integers(1, C + 1, size=(6, 3))
    trip[:, 2] = rng.integers(1, P + 1, size=6)
    out["train_triplets"] = trip
    out["train_triplet_counts"] = rng.integers(1, 12, size=6)
    if mode == "predcls" and rng.random() < 0.5:
        for key in ("pred_obj_ptr", "pred_boxes", "pred_labels", "pred_scores"):
            del out[key]
    return out


@settings(deadline=None, max_examples=200)
@given(seed=st.integers(0, 10_000), mode=st.sampled_from(["predcls", "sgcls", "sgdet"]),
       order=st.sampled_from(["score", "file"]), chunk_pairs=st.sampled_from([10 ** 6, 1, 5]),
       threads=st.sampled_from([1, 3]))
def test_vectorised_equals_reference(seed, mode, order, chunk_pairs, threads):
    """Also when the images are scored in chunks of ~1 or ~5 pairs (memory bound), one
    thread or three scoring chunks side by side."""
    raw = random_file(seed, mode)
    data = validate_predictions(raw, mode)
    got = evaluate_predictions(data, mode, ks=KS, order=order, fewshot_bins=((1, 5), (6, 11)),
                               chunk_pairs=chunk_pairs, threads=threads)["metrics"]
    want = reference_metrics(data, mode, ks=KS, order=order, bins=((1, 5), (6, 11)))
    assert set(want) <= set(got)
    for key, value in want.items():
        if value is None:
            assert got[key] is None, key
        else:
            assert got[key] is not None and abs(got[key] - value) < 1e-6, (key, got[key], value)


@pytest.mark.parametrize("object_scores", ["ones", "signed"])
@pytest.mark.parametrize("rel_scores", ["tied", "continuous"])
def test_large_images_use_the_pruned_no_graph_constraint_path(object_scores, rel_scores):
    """Images with >= 100 pairs, 25-99 pairs and < 25 pairs (each pruning branch), P = 8;
    object scores of 1 (the row maxima come from the graph-constrained scores) or of both
    signs (a negative product reverses a row's order: the maxima are recomputed); predicate
    scores from four values (tied keys: the stable sort) or continuous (no ties: the fast
    sort)."""
    rng = np.random.default_rng(0)
    P, C = 8, 5
    sizes = [12, 7, 3, 11]  # 132, 42, 6, 110 ordered pairs
    parts = {k: [] for k in ("gt_boxes", "gt_labels", "gt_rels", "rel_pair_idx", "rel_scores")}
    ptr = {k: [0] for k in ("gt_obj_ptr", "gt_rel_ptr", "rel_ptr")}
    for n in sizes:
        xy = rng.integers(0, 40, size=(n, 2)).astype(np.float32)
        parts["gt_boxes"].append(np.concatenate([xy, xy + rng.integers(2, 30, (n, 2))], 1))
        parts["gt_labels"].append(rng.integers(1, C + 1, n))
        rels = np.array([(s, (s + 1) % n, rng.integers(1, P + 1)) for s in range(n)])
        parts["gt_rels"].append(rels)
        pairs = np.array([(s, o) for s in range(n) for o in range(n) if s != o])
        parts["rel_pair_idx"].append(pairs)
        parts["rel_scores"].append(rng.choice([0.05, 0.1, 0.3, 0.6], (len(pairs), P + 1))
                                   if rel_scores == "tied"
                                   else rng.random((len(pairs), P + 1)).astype(np.float32))
        for key, cnt in (("gt_obj_ptr", n), ("gt_rel_ptr", len(rels)), ("rel_ptr", len(pairs))):
            ptr[key].append(ptr[key][-1] + cnt)
    data = {k: np.concatenate(v) for k, v in parts.items()}
    data.update({k: np.asarray(v) for k, v in ptr.items()}, num_predicates=np.asarray(P))
    if object_scores == "signed":
        n = int(data["gt_obj_ptr"][-1])
        data.update(pred_obj_ptr=data["gt_obj_ptr"], pred_boxes=data["gt_boxes"],
                    pred_labels=data["gt_labels"],
                    pred_scores=rng.choice([-0.7, -0.2, 0.4, 0.9], n).astype(np.float32))
    data = validate_predictions(data, "predcls")
    ks = (5, 20, 100)
    got = evaluate_predictions(data, "predcls", ks=ks)["metrics"]
    want = reference_metrics(data, "predcls", ks=ks)
    for key, value in want.items():
        assert (got[key] is None) == (value is None), key
        if value is not None:
            assert abs(got[key] - value) < 1e-6, (key, got[key], value)
    assert 0 < got["ng-R@20"] < got["ng-R@100"]  # the cut matters in this file
