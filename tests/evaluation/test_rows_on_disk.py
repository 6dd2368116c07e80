"""Reading the score matrix a chunk of rows at a time, straight from the ``.npz``."""
import numpy as np
import pytest

from pyg_sgg.evaluation.interchange import (PredictionsFormatError, read_predictions,
                                            write_predictions)
from pyg_sgg.evaluation.rows_on_disk import RowsOnDisk, stored_npz_member
from pyg_sgg.evaluation.sgg_metrics import evaluate_predictions


def _predictions(rng, num_images=40, P=6):
    n_obj = rng.integers(0, 6, num_images)
    ptr = np.r_[0, np.cumsum(n_obj)]
    lo = rng.uniform(0, 50, (ptr[-1], 2))
    boxes = np.c_[lo, lo + rng.uniform(1, 40, (ptr[-1], 2))].astype(np.float32)
    pairs = [np.array([(a, b) for a in range(n) for b in range(n) if a != b]).reshape(-1, 2)
             for n in n_obj]
    gt = [p[rng.random(len(p)) < 0.3] for p in pairs]
    gt_rels = np.concatenate([np.c_[g, rng.integers(1, P + 1, len(g))] for g in gt])
    R = sum(len(p) for p in pairs)
    return {"num_predicates": np.asarray(P), "gt_obj_ptr": ptr, "gt_boxes": boxes,
            "gt_labels": rng.integers(1, 5, ptr[-1]),
            "gt_rel_ptr": np.r_[0, np.cumsum([len(g) for g in gt])],
            "gt_rels": gt_rels.astype(np.int64).reshape(-1, 3),
            "rel_ptr": np.r_[0, np.cumsum([len(p) for p in pairs])],
            "rel_pair_idx": np.concatenate(pairs).astype(np.int64).reshape(-1, 2),
            "rel_scores": rng.uniform(0, 1, (R, P + 1)).astype(np.float32)}


def test_rows_are_the_arrays_rows(tmp_path):
    a = np.arange(60, dtype=np.float32).reshape(12, 5)
    np.savez(tmp_path / "f.npz", first=np.ones(3), a=a)
    rows = stored_npz_member(tmp_path / "f.npz", "a")
    assert isinstance(rows, RowsOnDisk) and rows.shape == (12, 5) and len(rows) == 12
    for key in (slice(0, 12), slice(3, 7), slice(10, 40), slice(5, 5), slice(-3, None)):
        np.testing.assert_array_equal(rows[key], a[key])
    np.testing.assert_array_equal(np.asarray(rows), a)
    np.testing.assert_array_equal(rows[::2], a[::2])  # any other index reads everything
    assert stored_npz_member(tmp_path / "f.npz", "missing") is None


def test_compressed_or_fortran_members_are_left_to_np_load(tmp_path):
    a = np.ones((4, 3), np.float32)
    np.savez_compressed(tmp_path / "c.npz", a=a)
    np.savez(tmp_path / "f.npz", a=np.asfortranarray(a))
    assert stored_npz_member(tmp_path / "c.npz", "a") is None
    assert stored_npz_member(tmp_path / "f.npz", "a") is None


@pytest.mark.parametrize("compress", [False, True])
def test_scores_on_disk_give_the_same_metrics(tmp_path, compress):
    d = _predictions(np.random.default_rng(0))
    path = write_predictions(tmp_path / "p.npz", d, mode="predcls", compress=compress)
    whole = read_predictions(path, "predcls")
    lazy = read_predictions(path, "predcls", scores_on_disk=True)
    assert isinstance(lazy["rel_scores"], RowsOnDisk) != compress
    expected = evaluate_predictions(whole, "predcls", threads=1)
    for chunk in (1, 13, 10 ** 6):
        for threads in (1, 2, 4):  # each thread reads its chunks' rows through its own handle
            got = evaluate_predictions(lazy, "predcls", chunk_pairs=chunk, threads=threads)
            assert got == expected


def test_a_nan_in_scores_on_disk_names_its_row(tmp_path):
    d = _predictions(np.random.default_rng(1))
    d["rel_scores"][17, 2] = np.nan
    np.savez(tmp_path / "p.npz", **d)
    with pytest.raises(PredictionsFormatError, match=r"p\.npz: key 'rel_scores': row 17: NaN"):
        read_predictions(tmp_path / "p.npz", "predcls", scores_on_disk=True)


def test_a_damaged_member_header_is_one_line(tmp_path):
    d = _predictions(np.random.default_rng(2))
    path = write_predictions(tmp_path / "p.npz", d)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"\x93NUMPY", raw.index(b"rel_scores.npy"))
    raw[at:at + 6] = b"XXXXXX"  # the .npy magic of rel_scores
    path.write_bytes(bytes(raw))
    with pytest.raises(PredictionsFormatError) as err:
        read_predictions(path, "predcls", scores_on_disk=True)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
