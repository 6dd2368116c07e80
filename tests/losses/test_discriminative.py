import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_sgg.losses import discriminative_loss


def loop_reference(x, cluster, batch, dv=0.5, dd=1.5, a=1.0, b=1.0, g=0.001):
    """De Brabandere et al.'s three terms, per graph and per cluster in Python loops."""
    per_graph = []
    for graph in sorted(set(batch.tolist())):
        ids = sorted({int(c) for c, gr in zip(cluster, batch) if int(gr) == graph and c >= 0})
        if not ids:
            continue
        means = {}
        var = 0.0
        for c in ids:
            rows = [x[i] for i in range(len(x)) if int(batch[i]) == graph and int(cluster[i]) == c]
            mu = torch.stack(rows).mean(0)
            means[c] = mu
            var += sum(max(0.0, float((mu - r).norm()) - dv) ** 2 for r in rows) / len(rows)
        C = len(ids)
        dist = 0.0
        for ca, cb in itertools.permutations(ids, 2):
            dist += max(0.0, 2 * dd - float((means[ca] - means[cb]).norm())) ** 2
        dist = dist / (C * (C - 1)) if C > 1 else 0.0
        reg = sum(float(m.norm()) for m in means.values()) / C
        per_graph.append((var / C, dist, reg))
    if not per_graph:
        return 0.0, 0.0, 0.0
    v, d, r = (sum(t[k] for t in per_graph) / len(per_graph) for k in range(3))
    return v, d, r


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 14), graphs=st.integers(1, 3), clusters=st.integers(1, 4),
       dim=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_matches_the_per_cluster_loops(n, graphs, clusters, dim, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen, dtype=torch.float64) * 2
    cluster = torch.randint(-1, clusters, (n,), generator=gen)
    batch = torch.randint(0, graphs, (n,), generator=gen).sort().values
    got = discriminative_loss(x, cluster, batch)
    v, d, r = loop_reference(x, cluster, batch)
    assert float(got["var"]) == pytest.approx(v, abs=1e-5)
    assert float(got["dist"]) == pytest.approx(d, abs=1e-5)
    assert float(got["reg"]) == pytest.approx(r, abs=1e-5)
    assert float(got["loss"]) == pytest.approx(v + d + 0.001 * r, abs=1e-5)


def test_hand_case_two_points_two_clusters():
    # clusters at 0 and 1 on a line: var 0, dist = (3 - 1)^2 = 4 (both orders, / 2), reg 0.5
    x = torch.tensor([[0.0], [1.0]])
    out = discriminative_loss(x, torch.tensor([0, 1]))
    assert float(out["var"]) == 0.0
    assert float(out["dist"]) == pytest.approx(4.0)
    assert float(out["reg"]) == pytest.approx(0.5)
    # one cluster with points 2 apart: each is 1 from the mean: (1 - 0.5)^2 = 0.25
    out = discriminative_loss(torch.tensor([[0.0], [2.0]]), torch.tensor([3, 3]))
    assert float(out["var"]) == pytest.approx(0.25)
    assert float(out["dist"]) == 0.0


def test_empty_and_ignored_inputs_and_finite_gradients():
    x = torch.randn(0, 3, requires_grad=True)
    out = discriminative_loss(x, torch.zeros(0, dtype=torch.long))
    out["loss"].backward()
    assert float(out["loss"].detach()) == 0.0
    x = torch.zeros(4, 3, requires_grad=True)  # coincident means and points
    out = discriminative_loss(x, torch.tensor([0, 0, 1, -1]))
    out["loss"].backward()
    assert torch.isfinite(x.grad).all()
    assert float(out["dist"].detach()) == pytest.approx(9.0)  # (2 * 1.5 - 0)^2
