import numpy as np
import pytest
import torch

from pyg_sgg.methods.class_weights import stage_class_weights
from pyg_sgg.methods.predicate_hierarchy import predicate_stages

COUNTS = [0, 5, 100, 50, 1, 30]  # background, then predicates 1..5


def test_frequency_split_from_histogram():
    s = predicate_stages(COUNTS, sizes=[2])
    assert [c.tolist() for c in s] == [[0, 2, 3], [0, 1, 2, 3, 4, 5]]
    s = predicate_stages(COUNTS, sizes=[2, 4])
    assert [c.tolist() for c in s] == [[0, 2, 3], [0, 1, 2, 3, 5], [0, 1, 2, 3, 4, 5]]
    with pytest.raises(ValueError, match="sizes"):
        predicate_stages(COUNTS, sizes=[4, 2])
    with pytest.raises(ValueError, match="sizes"):
        predicate_stages(COUNTS, sizes=[6])


def test_cluster_split_keeps_clusters_whole():
    # predicates {2, 5} share one frequency-bias pattern, {1, 3, 4} another
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    pd = np.zeros((3, 3, 6))
    for p in (2, 5):
        pd[..., p] = a + 0.01 * rng.normal(size=(3, 3))
    for p in (1, 3, 4):
        pd[..., p] = b + 0.01 * rng.normal(size=(3, 3))
    s = predicate_stages(COUNTS, sizes=[1], split="cluster", pred_dist=pd)
    # the most frequent cluster {2, 5} (130) comes first; size 1 is rounded up to it
    assert [c.tolist() for c in s] == [[0, 2, 5], [0, 1, 2, 3, 4, 5]]
    with pytest.raises(ValueError, match="pred_dist"):
        predicate_stages(COUNTS, sizes=[1], split="cluster")


def test_class_weights():
    counts = [0, 10, 100, 50]
    w = stage_class_weights(counts, [0, 2, 3], mode="inverse", bg_ratio=0.25)
    raw = torch.tensor([0.25 / 100, 0.0, 1 / 100, 1 / 50])  # bg = 0.25 * min fg weight
    assert torch.allclose(w, raw * 3 / raw.sum())
    assert w[1] == 0  # not in the stage
    beta = 0.99
    w = stage_class_weights(counts, [0, 1, 2, 3], mode="effective", beta=beta)
    eff = torch.tensor([(1 - beta) / (1 - beta ** n) for n in (10, 100, 50)])
    raw = torch.cat([0.25 * eff.min().view(1), eff])
    assert torch.allclose(w, (raw * 4 / raw.sum()).float())
    assert w[1] > w[3] > w[2] > w[0]  # rarer → larger
    # a known background count is used as such
    w = stage_class_weights([200, 10, 100], [0, 1, 2], mode="inverse")
    raw = torch.tensor([1 / 200, 1 / 10, 1 / 100])
    assert torch.allclose(w, raw * 3 / raw.sum())
    with pytest.raises(ValueError, match="mode"):
        stage_class_weights(counts, [0, 1], mode="bogus")
