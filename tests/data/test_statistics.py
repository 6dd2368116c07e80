
import numpy as np
import pytest
import torch

from pyg_sgg.data.scene_graph import SceneGraph
from pyg_sgg.data.statistics import (few_shot_bin_index, few_shot_bins, frequency_tables,
                                     get_statistics, triplet_counts, zero_shot_mask,
                                     zero_shot_triplets)


class TinyDataset:
    """Five hand-made images: overlapping pairs, no overlapping pair, empty, single object,
    touching boxes (intersection area 0)."""
    object_classes = ["__background__", "a", "b", "c"]
    predicate_classes = ["__background__", "p", "q"]

    def __init__(self, graphs):
        self.graphs = graphs

    def __len__(self):
        return len(self.graphs)

    def __getitem__(self, i):
        return self.graphs[i]


def _g(boxes, labels, rels):
    rels = torch.tensor(rels, dtype=torch.long).reshape(-1, 3)
    return SceneGraph(boxes=torch.tensor(boxes, dtype=torch.float).reshape(-1, 4),
                      labels=torch.tensor(labels), image_size=(40, 40),
                      gt_rel_index=rels[:, :2].t(), gt_rel_label=rels[:, 2])


@pytest.fixture
def tiny():
    return TinyDataset([
        _g([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30]], [1, 2, 3],
           [[0, 1, 1], [0, 2, 2], [0, 1, 2]]),
        _g([[0, 0, 5, 5], [10, 10, 20, 20]], [3, 3], [[1, 0, 2]]),
        _g([], [], []),
        _g([[0, 0, 4, 4]], [2], []),
        _g([[0, 0, 10, 10], [10, 0, 20, 10]], [1, 2], []),
    ])


def test_get_statistics_by_hand(tiny):
    st = get_statistics(tiny)
    fg, bg = st["fg_matrix"].numpy(), st["bg_matrix"].numpy()
    assert fg.shape == (4, 4, 3) and bg.shape == (4, 4)
    exp_bg = np.zeros((4, 4), np.int64)
    exp_bg[1, 2] = exp_bg[2, 1] = 2  # image 0 overlap + image 4 fallback (touching only)
    exp_bg[3, 3] = 2                  # image 1: no overlapping pair -> all pairs
    assert np.array_equal(bg, exp_bg)
    exp_fg = np.zeros((4, 4, 3), np.int64)
    exp_fg[1, 2, 1] = exp_fg[1, 2, 2] = exp_fg[1, 3, 2] = exp_fg[3, 3, 2] = 1
    assert np.array_equal(fg[:, :, 1:], exp_fg[:, :, 1:])
    assert np.array_equal(fg[:, :, 0], exp_bg + 1)  # SGB: bg + 1 in column 0
    row = np.array([3, 1, 1]) / 5.0
    assert np.allclose(st["pred_dist"][1, 2].numpy(), np.log(row + 1e-3), atol=1e-6)
    assert np.allclose(st["pred_dist"][0, 0].numpy(), np.log(np.array([1, 0, 0]) + 1e-3))
    assert st["predicate_counts"].tolist() == [0, 1, 3]
    assert st["train_triplets"].tolist() == [[1, 2, 1], [1, 2, 2], [1, 3, 2], [3, 3, 2]]
    assert st["triplet_counts"].tolist() == [1, 1, 1, 1]


def test_must_overlap_false_counts_all_pairs(tiny):
    arr_fg, arr_bg = frequency_tables(
        np.array([1, 2, 3]), np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30.]]),
        np.array([0, 3]), np.zeros((0, 3), np.int64), 3, 2, must_overlap=False)
    assert arr_bg.sum() == 6 and arr_fg.sum() == 0


def test_zero_and_few_shot():
    train = np.array([[1, 2, 1]] * 3 + [[1, 3, 2]] * 7 + [[2, 2, 1]])
    test = np.array([[1, 2, 1], [3, 3, 1], [1, 3, 2], [3, 3, 1], [2, 2, 1]])
    assert zero_shot_mask(train, test).tolist() == [False, True, False, True, False]
    assert zero_shot_mask(np.zeros((0, 3), int), test).all()
    assert zero_shot_mask(train, np.zeros((0, 3), int)).shape == (0,)
    counts = triplet_counts(train)
    assert counts[0].tolist() == [[1, 2, 1], [1, 3, 2], [2, 2, 1]]
    assert counts[1].tolist() == [3, 7, 1]
    bins = ((0, 0), (1, 5), (6, 10))
    assert few_shot_bin_index(counts, test, bins).tolist() == [1, 0, 2, 0, 1]
    assert few_shot_bins(counts, test, bins).tolist() == [2, 2, 1]
    per_bin = few_shot_bins(counts, bins=bins)
    assert [b.tolist() for b in per_bin] == [[], [[1, 2, 1], [2, 2, 1]], [[1, 3, 2]]]


def test_zero_shot_triplets_datasets(tiny):
    test = TinyDataset([_g([[0, 0, 5, 5], [1, 1, 6, 6]], [1, 2], [[0, 1, 1], [1, 0, 1]])])
    assert zero_shot_triplets(tiny, test).tolist() == [[2, 1, 1]]


def test_vg_fast_path_matches_iteration(tmp_path):
    from pyg_sgg.data import synthvg as S
    from pyg_sgg.data.vg import VGDataset

    S.generate(tmp_path, num_images=30, seed=4, progress=False, workers=1, num_coco_images=2)
    ds = VGDataset(tmp_path, "train", num_val_images=0, filter_duplicate_rels=False)
    fast = get_statistics(ds)
    slow = get_statistics(_Iter(ds))
    for k in ("fg_matrix", "predicate_counts", "train_triplets", "triplet_counts"):
        assert torch.equal(fast[k], slow[k]), k
    assert fast["pred_dist"].shape == (len(ds.object_classes),) * 2 + (len(ds.predicate_classes),)
    assert torch.isfinite(fast["pred_dist"]).all()
    assert int(fast["predicate_counts"].sum()) == sum(ds[i].num_relations for i in range(len(ds)))


class _Iter:
    """Hides ``split_arrays`` so that statistics iterate ``ds[i]``."""

    def __init__(self, ds):
        self.ds = ds
        self.object_classes, self.predicate_classes = ds.object_classes, ds.predicate_classes

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        return self.ds[i]


def test_background_counts_do_not_depend_on_the_chunking(monkeypatch):
    """frequency_tables counts the pairs of a large split in chunks of images: any chunk size
    gives the per-image loop's counts (SGB's get_VG_statistics, written out here)."""
    from pyg_sgg.data import statistics
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 7, 40)
    ptr = np.r_[0, np.cumsum(counts)]
    labels = rng.integers(1, 5, ptr[-1])
    xy = rng.uniform(0, 50, (ptr[-1], 2))
    boxes = np.c_[xy, xy + rng.uniform(0, 30, (ptr[-1], 2))]
    tri = np.zeros((0, 3), np.int64)
    expected = np.zeros((5, 5), np.int64)
    for i in range(len(counts)):
        idx = range(ptr[i], ptr[i + 1])
        pairs = [(a, b) for a in idx for b in idx if a != b]
        over = [(a, b) for a, b in pairs
                if min(boxes[a, 2], boxes[b, 2]) > max(boxes[a, 0], boxes[b, 0])
                and min(boxes[a, 3], boxes[b, 3]) > max(boxes[a, 1], boxes[b, 1])]
        for a, b in (over or pairs):
            expected[labels[a], labels[b]] += 1
    for chunk in (1, 7, 50, 10**9):
        monkeypatch.setattr(statistics, "_PAIR_CHUNK", chunk)
        _, bg = statistics.frequency_tables(labels, boxes, ptr, tri, 4, 3)
        assert np.array_equal(bg, expected), chunk
