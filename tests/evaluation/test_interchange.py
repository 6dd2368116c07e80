"""The predictions interchange format: concatenation and reading files."""
import numpy as np
import pytest

import evaluate
from pyg_sgg.evaluation.interchange import (PredictionsFormatError,
                                            concat_predictions,
                                            read_predictions)


def _chunk(n_obj, n_rel, first_id):
    B = len(n_obj)
    ptr = np.concatenate([[0], np.cumsum(n_obj)])
    rptr = np.concatenate([[0], np.cumsum(n_rel)])
    return {"num_predicates": np.asarray(4), "gt_obj_ptr": ptr, "pred_obj_ptr": ptr,
            "gt_labels": np.arange(ptr[-1]), "pred_scores": np.ones(ptr[-1]),
            "gt_rel_ptr": rptr, "gt_rels": np.zeros((rptr[-1], 3), np.int64),
            "rel_ptr": rptr, "rel_pair_idx": np.zeros((rptr[-1], 2), np.int64),
            "rel_scores": np.zeros((rptr[-1], 5)), "image_ids": np.arange(B) + first_id,
            "train_triplets": np.ones((2, 3))}


def test_concat_predictions_shifts_pointers():
    m = concat_predictions([_chunk([2, 3], [1, 0], 0), _chunk([0], [0], 2),
                           _chunk([4], [2], 3)])
    assert m["gt_obj_ptr"].tolist() == [0, 2, 5, 5, 9]
    assert m["rel_ptr"].tolist() == [0, 1, 1, 1, 3] == m["gt_rel_ptr"].tolist()
    assert m["gt_labels"].shape == (9,) and m["rel_scores"].shape == (3, 5)
    assert m["image_ids"].tolist() == [0, 1, 2, 3]
    assert m["train_triplets"].shape == (2, 3) and int(m["num_predicates"]) == 4


def _bad_files(tmp_path):
    np.save(tmp_path / "array.npy", np.zeros(3))
    np.savez(tmp_path / "pickled.npz", a=np.array([{"a": 1}], dtype=object))
    whole = (tmp_path / "pickled.npz").read_bytes()
    files = {"text.npz": (b"hello\n", "not a zip archive"),
             "empty.npz": (b"", "the file is empty"),
             "truncated.npz": (whole[: len(whole) // 2], "truncated or corrupt archive"),
             "renamed.npz": ((tmp_path / "array.npy").read_bytes(), "a .npy array"),
             "pickled.npz": (whole, "needs pickle")}
    for name, (data, _) in files.items():
        (tmp_path / name).write_bytes(data)
    return {tmp_path / name: reason for name, (_, reason) in files.items()}


def test_read_predictions_names_the_file_of_a_non_npz(tmp_path):
    for path, reason in _bad_files(tmp_path).items():
        with pytest.raises(PredictionsFormatError) as e:
            read_predictions(path)
        msg = str(e.value)
        assert msg.startswith(f"{path}: not a predictions .npz (") and reason in msg, msg
        assert "\n" not in msg and "allow_pickle" not in msg


def test_evaluate_py_prints_one_line_for_a_non_npz(tmp_path, capsys):
    path = tmp_path / "notes.npz"
    path.write_text("not numpy at all")
    with pytest.raises(SystemExit) as e:
        evaluate.main(["--predictions", str(path)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {path}: not a predictions .npz (not a zip archive)"]


def _valid_sgdet():
    """Two images, 2 + 1 GT objects, one GT relation, 2 detections + 1, one scored pair."""
    return {"num_predicates": np.asarray(3), "gt_obj_ptr": np.array([0, 2, 3]),
            "gt_boxes": np.array([[0, 0, 5, 5], [2, 2, 9, 9], [1, 1, 4, 4]], np.float32),
            "gt_labels": np.array([1, 2, 1]), "gt_rel_ptr": np.array([0, 1, 1]),
            "gt_rels": np.array([[0, 1, 2]]), "pred_obj_ptr": np.array([0, 2, 3]),
            "pred_boxes": np.array([[0, 0, 5, 5], [2, 2, 9, 9], [1, 1, 4, 4]], np.float32),
            "pred_labels": np.array([1, 2, 1]), "pred_scores": np.array([0.9, 0.8, 0.7]),
            "rel_ptr": np.array([0, 1, 1]), "rel_pair_idx": np.array([[0, 1]]),
            "rel_scores": np.array([[0.1, 0.2, 0.6, 0.1]])}


def _with(key, value):
    d = _valid_sgdet()
    d[key] = value
    return d


BAD_VALUES = [
    ("nan score", _with("rel_scores", np.array([[np.nan, 0.2, 0.6, 0.1]])),
     "rel_scores: row 0: NaN or inf score"),
    ("inf object score", _with("pred_scores", np.array([0.9, np.inf, 0.7])),
     "pred_scores: row 1: NaN or inf score"),
    ("background label", _with("pred_labels", np.array([1, 0, 1])),
     "pred_labels: row 1: label < 1"),
    ("negative GT label", _with("gt_labels", np.array([1, 2, -3])), "gt_labels: row 2: label < 1"),
    ("vector num_predicates", _with("num_predicates", np.array([3, 3])),
     "num_predicates: expected a positive integer scalar"),
    ("string num_predicates", _with("num_predicates", np.asarray("3")),
     "num_predicates: expected a positive integer scalar"),
    ("fractional num_predicates", _with("num_predicates", np.asarray(3.5)),
     "num_predicates: expected a positive integer scalar"),
    ("nan box", _with("gt_boxes", np.array([[0, 0, 5, 5], [2, np.nan, 9, 9], [1, 1, 4, 4]])),
     "gt_boxes: row 1: NaN or inf coordinate"),
    ("inverted box", _with("pred_boxes", np.array([[5, 0, 0, 5], [2, 2, 9, 9], [1, 1, 4, 4]])),
     "pred_boxes: row 0: inverted box"),
    ("no relation anywhere", {**_valid_sgdet(), "gt_rel_ptr": np.array([0, 0, 0]),
                              "gt_rels": np.zeros((0, 3), np.int64)},
     "gt_rels: no ground-truth relation in any image"),
    ("masks without image sizes", _with("pred_masks", np.array([b"PP", b"PP", b"PP"])),
     "image_sizes: missing (required with pred_masks)"),
    ("a mask short", {**_with("pred_masks", np.array([b"PP", b"PP"])),
                      "image_sizes": np.array([[9, 9], [9, 9]])},
     "pred_masks: expected shape [3] (one per predicted object)"),
    ("masks as floats", {**_with("pred_masks", np.zeros(3)),
                         "image_sizes": np.array([[9, 9], [9, 9]])},
     "pred_masks: expected bytes (COCO RLE counts)"),
    ("zero image size", {**_with("pred_masks", np.array([b"PP", b"PP", b"PP"])),
                         "image_sizes": np.array([[9, 9], [0, 9]])},
     "image_sizes: row 1: height or width < 1"),
    ("zero images", {k: (np.array([0]) if k.endswith("_ptr") else
                         v[:0] if v.ndim else v) for k, v in _valid_sgdet().items()},
     "gt_obj_ptr: no images"),
]


@pytest.mark.parametrize("name, data, line", BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_evaluate_py_rejects_bad_values_in_one_line(name, data, line, tmp_path, capsys):
    path = tmp_path / "preds.npz"
    np.savez(path, **data)
    with pytest.raises(SystemExit) as e:
        evaluate.main(["--predictions", str(path), "--mode", "sgdet"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    key, _, rest = line.partition(": ")
    assert len(err) == 1 and err[0].startswith(f"error: {path}: key '{key}': {rest}"), err


@pytest.mark.parametrize("ks", [["0"], ["-5"], ["20", "0"]])
def test_evaluate_py_rejects_non_positive_ks(ks, tmp_path, capsys):
    path = tmp_path / "preds.npz"
    np.savez(path, **_valid_sgdet())
    with pytest.raises(SystemExit) as e:
        evaluate.main(["--predictions", str(path), "--mode", "sgdet", "--ks", *ks])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: argument --ks: every K must be >= 1"), err


def test_evaluate_py_rejects_threads_below_one_and_scores_the_same_with_any(tmp_path, capsys):
    path = tmp_path / "preds.npz"
    np.savez(path, **_valid_sgdet())
    with pytest.raises(SystemExit) as e:
        evaluate.main(["--predictions", str(path), "--mode", "sgdet", "--threads", "0"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: argument --threads: must be >= 1, got 0"], err
    outs = []
    for threads in ("1", "3"):
        out = tmp_path / f"m{threads}.json"
        assert evaluate.main(["--predictions", str(path), "--mode", "sgdet", "--threads",
                              threads, "--out", str(out)]) == 0
        outs.append(out.read_text())
    assert outs[0] == outs[1]


def test_scoring_a_predictions_file_imports_neither_torch_nor_the_config_system(tmp_path):
    """``evaluate.py --predictions`` is numpy only: its start-up is part of its speed."""
    import subprocess
    import sys
    from pathlib import Path
    path = tmp_path / "preds.npz"
    np.savez(path, **_valid_sgdet())
    root = Path(evaluate.__file__).resolve().parent
    code = ("import sys, runpy; sys.argv = ['evaluate.py', '--predictions', sys.argv[1], "
            "'--mode', 'sgdet']\n"
            "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'fvcore', 'iopath', 'yacs') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out


def test_the_valid_file_is_scored_and_an_empty_evaluator_is_not_an_error(tmp_path):
    path = tmp_path / "preds.npz"
    np.savez(path, **_valid_sgdet())
    assert evaluate.main(["--predictions", str(path), "--mode", "sgdet"]) == 0
    from pyg_sgg.evaluation.interchange import validate_predictions
    empty = {**_valid_sgdet(), "gt_rel_ptr": np.array([0, 0, 0]),
             "gt_rels": np.zeros((0, 3), np.int64)}
    validate_predictions(empty, "sgdet")  # the training-time evaluator: no error


def test_predicate_confusion_by_hand(tmp_path):
    from pyg_sgg.evaluation.confusion import predicate_confusion
    from pyg_sgg.evaluation.interchange import validate_predictions
    # image 0: GT (0,1,1) scored with top predicate 2; GT (1,0,3) scored top 3;
    # image 1: GT (0,1,2) never scored
    d = {"num_predicates": np.asarray(3), "gt_obj_ptr": np.array([0, 2, 4]),
         "gt_boxes": np.array([[0, 0, 5, 5], [1, 1, 6, 6], [0, 0, 5, 5], [1, 1, 6, 6]],
                              np.float32),
         "gt_labels": np.array([1, 2, 1, 2]), "gt_rel_ptr": np.array([0, 2, 3]),
         "gt_rels": np.array([[0, 1, 1], [1, 0, 3], [0, 1, 2]]),
         "rel_ptr": np.array([0, 2, 3]), "rel_pair_idx": np.array([[1, 0], [0, 1], [1, 0]]),
         "rel_scores": np.array([[0.1, 0.1, 0.1, 0.7], [0.1, 0.2, 0.6, 0.1],
                                 [0.1, 0.6, 0.2, 0.1]])}
    c = predicate_confusion(validate_predictions(d, "predcls"))
    want = np.zeros((4, 4), np.int64)
    want[1, 2] = want[3, 3] = want[2, 0] = 1
    assert c.tolist() == want.tolist()
    path = tmp_path / "p.npz"
    np.savez(path, **d, predicate_names=np.array(["bg", "on", "near", "has"]))
    assert evaluate.main(["--predictions", str(path), "--plot", str(tmp_path / "r.png")]) == 0
    assert (tmp_path / "r_confusion.png").is_file()


def test_masks_survive_writing_concatenation_and_reading(tmp_path):
    """``pred_masks`` (RLE bytes) and ``image_sizes`` go through write / concat / read and
    decode to the masks that were encoded."""
    import torch
    from pyg_sgg.evaluation.interchange import write_predictions
    from pyg_sgg.evaluation.object_masks import decode_object_masks, encode_object_masks
    d = _valid_sgdet()
    probs = torch.zeros(3, 28, 28)
    probs[:, 7:21, 7:21] = 1.0  # the middle of each box
    d["pred_masks"], d["image_sizes"] = encode_object_masks(
        probs, torch.as_tensor(d["pred_boxes"]), torch.tensor([0, 2, 3]),
        torch.tensor([[12, 10], [6, 8]]))
    empty = {k: (np.array([0, 0]) if k.endswith("_ptr") else v[:0] if v.ndim else v)
             for k, v in d.items()}
    empty["image_sizes"] = np.array([[4, 4]])
    both = concat_predictions([d, empty])
    path = write_predictions(tmp_path / "p.npz", both, mode="sgdet")
    back = read_predictions(path, mode="sgdet")
    assert back["image_sizes"].tolist() == [[12, 10], [6, 8], [4, 4]]
    first = decode_object_masks(back, 0)
    assert first.shape == (2, 12, 10)
    assert first[0, 2, 2] and not first[0, 0, 0] and not first[0, 11, 9]  # box 0..5, middle
    assert decode_object_masks(back, 1).shape == (1, 6, 8)
    assert decode_object_masks(back, 2).shape == (0, 4, 4)
