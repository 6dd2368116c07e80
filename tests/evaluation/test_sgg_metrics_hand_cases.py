"""Hand-computed cases, format errors and the command line."""
import argparse
import json

import numpy as np
import pytest

from pyg_sgg.evaluation import (PredictionsFormatError, SGGEvaluator,
                                evaluate_predictions, read_predictions,
                                validate_predictions, write_predictions)
from pyg_sgg.evaluation.command_line import (add_predictions_args,
                                             run_predictions)


def tiny():
    """Image 0: 3 objects, GT (0→1 pred 1), (1→2 pred 2); three scored pairs.
    Image 1: objects but no GT relation (left out of every metric)."""
    return {
        "num_predicates": np.asarray(3),
        "gt_obj_ptr": np.array([0, 3, 5]),
        "gt_boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50],
                              [0, 0, 5, 5], [6, 6, 9, 9]], np.float32),
        "gt_labels": np.array([1, 2, 3, 1, 1]),
        "gt_rel_ptr": np.array([0, 2, 2]),
        "gt_rels": np.array([[0, 1, 1], [1, 2, 2]]),
        "rel_ptr": np.array([0, 3, 4]),
        "rel_pair_idx": np.array([[0, 1], [1, 2], [2, 0], [0, 1]]),
        "rel_scores": np.array([[.1, .8, .05, .05],     # pair 0→1: pred 1, score .8  (hit)
                                [.1, .5, .3, .1],       # pair 1→2: pred 1 (.5) ≠ GT 2
                                [.2, .1, .1, .6],       # pair 2→0: pred 3, score .6
                                [.1, .9, 0, 0]], np.float32),
        "train_triplets": np.array([[1, 2, 1]]),        # (1,2,1) seen 7 times
        "train_triplet_counts": np.array([7]),
    }


def test_hand_computed_metrics():
    d = validate_predictions(tiny(), "predcls")
    m = evaluate_predictions(d, "predcls", ks=(1, 2, 3), fewshot_bins=((1, 5), (6, 10)))
    m, counts = m["metrics"], m["counts"]
    assert counts["num_evaluated_images"] == 1        # image 1 has no GT relation
    # ranked: (0→1,p1,.8) hit, (2→0,p3,.6), (1→2,p1,.5): 1 of 2 GT rows at every K
    assert m["R@1"] == m["R@3"] == 0.5
    # no graph constraint: .8 (hit), .6, .5, then (1→2, p2, .3) hits the second GT row
    assert m["ng-R@3"] == 0.5
    # per predicate: p1 recall 1, p2 recall 0, p3 absent (counts 0) → (1 + 0 + 0) / 3
    assert m["mR@3"] == pytest.approx(1 / 3)
    assert m["Mean@3"] == pytest.approx((0.5 + 1 / 3) / 2)
    # A@K: only pairs on GT pairs (0→1, 1→2); the first one hits → 1 / 2
    assert m["A@1"] == 0.5 and m["aR@3"] == 0.5
    # zero-shot: (2,3,2) is not a training triplet; it is missed → 0; (1,2,1) has count 7
    assert m["zR@3"] == 0.0 and m["fsR@3[6-10]"] == 1.0 and m["fsR@3[1-5]"] is None


def test_ng_reaches_second_predicate_and_file_order():
    d = validate_predictions(tiny(), "predcls")
    m = evaluate_predictions(d, "predcls", ks=(4,))["metrics"]
    assert m["ng-R@4"] == 1.0  # the 4th entry (1→2, p2) matches the second GT row
    m = evaluate_predictions(d, "predcls", ks=(1,), order="file")["metrics"]
    assert m["R@1"] == 0.5     # file order: 0→1 first as well


def test_iou_boundary_and_duplicate_gt_rows():
    d = tiny()
    d["gt_rels"] = np.array([[0, 1, 1], [0, 1, 1]])  # duplicate GT rows both count
    # SGDet: predicted subject box shifted so that IoU(+1) = 66/176 < .5 → no hit
    d.update(pred_obj_ptr=np.array([0, 3, 5]), pred_boxes=d["gt_boxes"].copy(),
             pred_labels=d["gt_labels"], pred_scores=np.ones(5, np.float32))
    v = validate_predictions(d, "sgdet")
    assert evaluate_predictions(v, "sgdet", ks=(1,))["metrics"]["R@1"] == 1.0
    d["pred_boxes"][0] = [5, 0, 15, 10]   # inter 6*11=66, union 121+121-66=176
    v = validate_predictions(d, "sgdet")
    assert evaluate_predictions(v, "sgdet", ks=(1,))["metrics"]["R@1"] == 0.0
    d["pred_boxes"][0] = [3, 0, 13, 10]   # inter 8*11=88, union 154: IoU .571 ≥ .5
    v = validate_predictions(d, "sgdet")
    assert evaluate_predictions(v, "sgdet", ks=(1,))["metrics"]["R@1"] == 1.0


@pytest.mark.parametrize("key,mutate,needle", [
    ("rel_scores", lambda d: d.__setitem__("rel_scores", d["rel_scores"][:, :3]), "rel_scores"),
    ("gt_rels", lambda d: d.__setitem__("gt_rels", d["gt_rels"].astype(float)), "gt_rels"),
    ("rel_ptr", lambda d: d.__setitem__("rel_ptr", np.array([0, 3])), "rel_ptr"),
    ("rel_pair_idx", lambda d: d["rel_pair_idx"].__setitem__((0, 0), 7), "rel_pair_idx"),
    ("missing", lambda d: d.pop("gt_boxes"), "gt_boxes"),
])
def test_format_errors_name_the_key(key, mutate, needle, tmp_path):
    d = tiny()
    mutate(d)
    path = tmp_path / "bad.npz"
    np.savez(path, **d)
    with pytest.raises(PredictionsFormatError, match=f"bad.npz: key '{needle}'"):
        read_predictions(path)
    with pytest.raises(PredictionsFormatError, match="key 'pred_obj_ptr'"):
        validate_predictions(tiny(), "sgdet")


def test_evaluator_chunks_equal_one_shot():
    d = tiny()
    one = evaluate_predictions(validate_predictions(d, "predcls"), "predcls")
    ev = SGGEvaluator("predcls", num_predicates=3, train_triplets=d["train_triplets"],
                      train_triplet_counts=d["train_triplet_counts"])
    for lo, hi in ((0, 1), (1, 2)):  # split the two images into two chunks
        chunk = {k: v for k, v in d.items() if k not in ("train_triplets",
                                                          "train_triplet_counts")}
        o0, o1 = d["gt_obj_ptr"][lo], d["gt_obj_ptr"][hi]
        r0, r1 = d["gt_rel_ptr"][lo], d["gt_rel_ptr"][hi]
        p0, p1 = d["rel_ptr"][lo], d["rel_ptr"][hi]
        chunk.update(gt_obj_ptr=np.array([0, o1 - o0]), gt_boxes=d["gt_boxes"][o0:o1],
                     gt_labels=d["gt_labels"][o0:o1], gt_rel_ptr=np.array([0, r1 - r0]),
                     gt_rels=d["gt_rels"][r0:r1], rel_ptr=np.array([0, p1 - p0]),
                     rel_pair_idx=d["rel_pair_idx"][p0:p1], rel_scores=d["rel_scores"][p0:p1])
        ev.process(chunk)
    assert ev.evaluate()["metrics"] == one["metrics"]


def test_command_line(tmp_path, capsys):
    path = write_predictions(tmp_path / "p.npz", tiny(), mode="predcls")
    parser = add_predictions_args(argparse.ArgumentParser())
    args = parser.parse_args(["--predictions", str(path), "--mode", "predcls",
                              "--out", str(tmp_path / "m.json"), "--plot",
                              str(tmp_path / "r.png")])
    run_predictions(args)
    assert "R " in capsys.readouterr().out
    res = json.loads((tmp_path / "m.json").read_text())
    assert set(res) == {"metrics", "per_predicate", "counts"}
    assert res["metrics"]["R@50"] == 0.5 and res["metrics"]["fsR@50[6-10]"] == 1.0
    assert res["metrics"]["fsR@50[1-5]"] is None
    assert all(0 <= v <= 1 for v in res["metrics"].values() if v is not None)
    assert (tmp_path / "r.png").stat().st_size > 1000


def test_plot_sorts_by_training_counts_and_labels_runs(tmp_path, monkeypatch):
    from pyg_sgg.evaluation import command_line
    d = tiny()
    d["predicate_names"] = np.array(["__background__", "on", "near", "has"])
    d["train_triplets"] = np.array([[1, 2, 1], [1, 3, 3], [2, 3, 3]])
    d["train_triplet_counts"] = np.array([7, 5, 4])
    path = write_predictions(tmp_path / "p.npz", d, mode="predcls")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"per_predicate": {"on": {"R@100": 1.0}}}))
    seen = {}
    monkeypatch.setattr(command_line, "plot_per_predicate_recall",
                        lambda runs, out, metric, train_counts: seen.update(
                            runs=list(runs), counts=train_counts))
    args = add_predictions_args(argparse.ArgumentParser()).parse_args(
        ["--predictions", str(path), "--plot", str(tmp_path / "r.png"), "--label", "HML",
         "--compare", f"CE={other}"])
    run_predictions(args)
    assert seen["runs"] == ["HML", "CE"]
    assert seen["counts"] == {"on": 7, "near": 0, "has": 9}
