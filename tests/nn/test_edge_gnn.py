import time

import pytest
import torch

from pyg_sgg.nn import EdgeGNN


def random_pairs(n, density, gen):
    """Random unique ordered pairs (subject, object) without self-pairs."""
    if n < 2:
        return torch.zeros(2, 0, dtype=torch.long)
    keep = (torch.rand(n, n, generator=gen) < density) & ~torch.eye(n, dtype=torch.bool)
    return keep.nonzero().t().contiguous()


def dense_reference(m, x, edge_index, edge_attr):
    """The spec's dense equations (METHODS.md §1.4), with an [N, N, E] edge tensor."""
    N, D = x.shape
    A = torch.zeros(N, N)
    A[edge_index[0], edge_index[1]] = 1.0
    De = edge_attr.size(1)
    e = torch.zeros(N, N, De)
    e[edge_index[0], edge_index[1]] = edge_attr
    h = x
    for _ in range(m.num_layers):
        n2n = m.node_mlp((A @ h) / (A.sum(1, keepdim=True) + 1e-6))
        e2n = m.edge_to_node_mlp((A[:, :, None] * e).sum(0))
        pair = torch.cat([h[:, None].expand(N, N, D), h[None].expand(N, N, D)], -1)
        d = m.pair_mlp(pair * A[:, :, None])
        h_new = m.node_rnn(m.alpha * n2n + (1 - m.alpha) * e2n, h)
        e = m.edge_rnn(d.reshape(N * N, De), e.reshape(N * N, De)).view(N, N, De)
        h = h_new
    return h, e[edge_index[0], edge_index[1]]


def test_edge_gnn_literal_graph():
    m = EdgeGNN(16, 8, num_layers=2, alpha=0.3)
    assert str(m) == 'EdgeGNN(16, edge_channels=8, num_layers=2, alpha=0.3)'
    assert str(EdgeGNN(512)) == 'EdgeGNN(512, edge_channels=512, num_layers=3, alpha=0.5)'
    x = torch.randn(4, 16)
    edge_index = torch.tensor([[0, 0, 1, 2], [1, 2, 0, 3]])
    h, e = m(x, edge_index, torch.randn(4, 8))
    assert h.shape == (4, 16) and e.shape == (4, 8)


@pytest.mark.parametrize('n', [0, 1, 2, 5, 13])
def test_edge_gnn_equals_dense_reference(n):
    gen = torch.Generator().manual_seed(n)
    torch.manual_seed(n)
    m = EdgeGNN(12, 7, num_layers=3, alpha=0.4)
    for density in (0.0, 0.3, 1.0):
        edge_index = random_pairs(n, density, gen)
        x = torch.randn(n, 12, generator=gen)
        edge_attr = torch.randn(edge_index.size(1), 7, generator=gen)
        h, e = m(x, edge_index, edge_attr)
        h_ref, e_ref = dense_reference(m, x, edge_index, edge_attr)
        assert torch.allclose(h, h_ref, atol=1e-5)
        assert torch.allclose(e, e_ref, atol=1e-5)
        assert torch.isfinite(h).all() and torch.isfinite(e).all()


def test_edge_gnn_direction_matters():
    torch.manual_seed(0)
    m = EdgeGNN(6, num_layers=1)
    x, edge_attr = torch.randn(2, 6), torch.randn(1, 6)
    h1, e1 = m(x, torch.tensor([[0], [1]]), edge_attr)
    h2, e2 = m(x, torch.tensor([[1], [0]]), edge_attr)
    assert not torch.allclose(e1, e2)  # [h_subject ; h_object] is ordered
    assert not torch.allclose(h1, h2)


def test_edge_gnn_wrong_edge_attr():
    with pytest.raises(ValueError, match='edge_attr'):
        EdgeGNN(4)(torch.randn(3, 4), torch.tensor([[0], [1]]), torch.randn(2, 4))


def _check_compile(backend):
    torch.manual_seed(0)
    m = EdgeGNN(8, 6, num_layers=2)
    x = torch.randn(5, 8)
    edge_index = torch.tensor([[0, 0, 1, 3, 4], [1, 2, 0, 4, 0]])
    edge_attr = torch.randn(5, 6)
    expected = m(x, edge_index, edge_attr)
    t = time.perf_counter()
    compiled = torch.compile(m, backend=backend, fullgraph=True)  # a graph break raises
    out = compiled(x, edge_index, edge_attr)
    print(f'compile ({backend}) + first call: {time.perf_counter() - t:.1f}s')
    assert torch.allclose(out[0], expected[0], atol=1e-5)
    assert torch.allclose(out[1], expected[1], atol=1e-5)


def test_edge_gnn_dynamo_no_graph_break():
    _check_compile('eager')  # Dynamo tracing only: fast


@pytest.mark.slow  # inductor code generation takes ~25 s on 2 CPU cores
def test_edge_gnn_compile_inductor():
    _check_compile('inductor')
