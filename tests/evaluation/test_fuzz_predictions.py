"""Fuzzing the predictions reader and the evaluator: random valid files, then one corruption
each (NaN / inf scores, empty images, out-of-range indices, wrong dtypes and shapes, truncated
files). Every outcome is a metrics dict or one :class:`PredictionsFormatError` line naming the
file and a key; nothing else is raised. ``-m slow`` runs 2,000 cases per test."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyg_sgg.evaluation.interchange import (PredictionsFormatError,
                                            read_predictions)
from pyg_sgg.evaluation.sgg_metrics import evaluate_predictions

SLOW = os.environ.get("PYG_SGG_FUZZ_EXAMPLES")


def random_predictions(rng, mode):
    I = int(rng.integers(1, 5))
    P = int(rng.integers(1, 6))
    n_gt = rng.integers(0, 5, I)
    n_pred = n_gt if mode == "predcls" else rng.integers(0, 6, I)
    gt_ptr, pred_ptr = np.r_[0, np.cumsum(n_gt)], np.r_[0, np.cumsum(n_pred)]

    def boxes(n):
        lo = rng.uniform(0, 50, (n, 2))
        return np.c_[lo, lo + rng.uniform(1, 40, (n, 2))].astype(np.float32)

    gt_rels, n_rel, pairs, n_pair = [], [], [], []
    for i in range(I):
        g = int(n_gt[i])
        m = int(rng.integers(0, 4)) if g >= 2 else 0
        s = rng.integers(0, max(g, 1), m)
        o = (s + rng.integers(1, max(g, 2), m)) % max(g, 1)
        gt_rels.append(np.c_[s, o, rng.integers(1, P + 1, m)])
        n_rel.append(m)
        k = int(n_pred[i])
        pp = np.array([(a, b) for a in range(k) for b in range(k) if a != b]).reshape(-1, 2)
        pairs.append(pp)
        n_pair.append(len(pp))
    R = int(sum(n_pair))
    return {"num_predicates": np.asarray(P), "gt_obj_ptr": gt_ptr,
            "gt_boxes": boxes(int(gt_ptr[-1])), "gt_labels": rng.integers(1, 5, gt_ptr[-1]),
            "gt_rel_ptr": np.r_[0, np.cumsum(n_rel)],
            "gt_rels": np.concatenate(gt_rels).astype(np.int64).reshape(-1, 3),
            "pred_obj_ptr": pred_ptr, "pred_boxes": boxes(int(pred_ptr[-1])),
            "pred_labels": rng.integers(1, 5, pred_ptr[-1]),
            "pred_scores": rng.uniform(0, 1, pred_ptr[-1]).astype(np.float32),
            "rel_ptr": np.r_[0, np.cumsum(n_pair)],
            "rel_pair_idx": np.concatenate(pairs).astype(np.int64).reshape(-1, 2),
            "rel_scores": rng.uniform(0, 1, (R, P + 1)).astype(np.float32)}


def corrupt(rng, d, kind):
    keys = sorted(d)
    key = keys[int(rng.integers(len(keys)))]
    a = d[key]
    if kind == "nan" and a.dtype.kind == "f" and a.size:
        a = a.copy()
        a.flat[int(rng.integers(a.size))] = rng.choice([np.nan, np.inf, -np.inf])
    elif kind == "index" and a.dtype.kind == "i" and a.size:
        a = a.copy()
        a.flat[int(rng.integers(a.size))] = rng.choice([-1, 10 ** 6, a.max() + 1])
    elif kind == "dtype":
        a = a.astype(rng.choice(["float64", "int32", "U3", "bool"]))
    elif kind == "shape":
        a = a.reshape(-1)[: max(0, a.size - 1)] if a.size else np.zeros((2, 7))
    elif kind == "drop":
        d = {k: v for k, v in d.items() if k != key}
        return d
    elif kind == "empty_images":
        return {**d, "gt_obj_ptr": np.zeros(1, np.int64)}
    d = dict(d)
    d[key] = a
    return d


def _read_and_score(path, mode, scores_on_disk):
    try:
        data = read_predictions(path, mode, scores_on_disk=scores_on_disk)
    except PredictionsFormatError as e:
        msg = str(e)
        assert msg.startswith(f"{path}: ") and "\n" not in msg, msg
        return msg
    # chunks of a few pairs: the scores left on disk are read a slice at a time
    out = evaluate_predictions(data, mode, ks=(1, 20), chunk_pairs=7)
    for v in out["metrics"].values():
        assert v is None or 0.0 <= v <= 1.0 + 1e-9
    return out


def check(path, mode):
    """The outcome (metrics or the error line) of reading the file whole; reading it with
    the scores left on disk must give the same outcome."""
    out = _read_and_score(path, mode, scores_on_disk=False)
    assert _read_and_score(path, mode, scores_on_disk=True) == out
    return None if isinstance(out, str) else out


CASES = int(SLOW) if SLOW else 60


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), mode=st.sampled_from(["predcls", "sgcls", "sgdet"]),
       kind=st.sampled_from(["none", "nan", "index", "dtype", "shape", "drop", "empty_images",
                             "truncate"]))
def test_reader_and_evaluator_never_crash(tmp_path, seed, mode, kind):
    rng = np.random.default_rng(seed)
    d = random_predictions(rng, mode)
    if kind not in ("none", "truncate"):
        d = corrupt(rng, d, kind)
    path = tmp_path / f"p{seed}.npz"
    np.savez(path, **d)
    if kind == "truncate":
        raw = path.read_bytes()
        path.write_bytes(raw[: int(rng.integers(0, len(raw)))])
    out = check(path, mode)
    if kind == "none" and d["gt_rels"].shape[0]:
        assert out is not None  # a valid file with relations is scored


@pytest.mark.slow
def test_fuzz_2000_cases(tmp_path):
    """``pytest -m slow``: the same property over 2,000 cases."""
    import subprocess
    import sys
    env = {**os.environ, "PYG_SGG_FUZZ_EXAMPLES": "2000"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           __file__ + "::test_reader_and_evaluator_never_crash"],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
