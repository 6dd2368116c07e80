"""The predictions interchange format: concatenation and reading files."""
import numpy as np
import pytest

import evaluate
from pyg_sgg.evaluation.interchange import (PredictionsFormatError, concat_predictions,
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
