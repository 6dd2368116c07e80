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


GOLDEN = __import__("pathlib").Path(__file__).resolve().parents[1] / "golden"


def vg150():
    """The genuine VG150 dictionary (tests/golden, copied from shared/data/vg150)."""
    import json
    d = json.loads((GOLDEN / "VG-SGG-dicts-with-attri.json").read_text())
    names = ["__background__"] + [d["idx_to_predicate"][str(i)] for i in range(1, 51)]
    counts = [0] + [d["predicate_count"][n] for n in names[1:]]
    return names, counts


def test_hml_default_weights_on_vg150_are_the_authors_numbers():
    """HML's published vectors (METHODS.md §3.3), through the default class weighting."""
    from pyg_sgg.methods.hml import HML
    names, counts = vg150()
    m = HML(predicate_counts=counts, predicate_names=names)
    assert m.weight_source == "authors"
    coarse = {"above", "behind", "has", "holding", "in", "near", "of", "on", "wearing", "with"}
    assert {names[c] for c in m.stage_classes[0].tolist() if c} == coarse
    w0, w1 = (dict(zip(names, w.tolist())) for w in m.stage_weights)
    published0 = {"__background__": 0.467, "above": 23.05, "behind": 16.53, "has": 2.54,
                  "holding": 14.28, "in": 7.07, "near": 8.65, "of": 4.81, "on": 1.66,
                  "wearing": 4.01, "with": 13.58}
    for n, v in published0.items():
        assert w0[n] == pytest.approx(v, abs=0.006), n
    assert all(w0[n] == 0 for n in names if n not in published0)
    published1 = {"__background__": 0.249, "on": 0.976, "has": 1.576, "wearing": 2.18,
                  "in": 4.21, "behind": 7.79, "sitting on": 18.8, "riding": 22.3,
                  "parked on": 156.1, "says": 2040.9, "flying in": 20000.1}
    for n, v in published1.items():
        assert w1[n] == pytest.approx(v, rel=2e-3), n
    assert min(w1.values()) > 0


def test_hml_authors_weights_follow_names_and_fall_back_elsewhere():
    from pyg_sgg.methods.hml import HML
    names, counts = vg150()
    perm = [0] + list(range(50, 0, -1))  # the same vocabulary in reverse order
    m = HML(predicate_counts=[counts[i] for i in perm], predicate_names=[names[i] for i in perm])
    assert m.weight_source == "authors"
    on = [names[i] for i in perm].index("on")
    assert m.stage_weights[1][on] == pytest.approx(0.976, rel=1e-3)
    # SynthVG-like vocabulary (a subset) or three stages: the frequency form instead
    sub = HML(predicate_counts=counts[:23], predicate_names=names[:23])
    assert sub.weight_source == "inverse"
    three = HML(predicate_counts=counts, predicate_names=names, stage_sizes=[10, 20])
    assert three.weight_source == "inverse"
    assert torch.allclose(three.stage_weights[0],
                          stage_class_weights(counts, three.stage_classes[0], "inverse"))
