import pytest
import torch

from pyg_sgg.nn import ImageGraphGGNN


def dense_reference(m, x, edge_index):
    """METHODS.md §1.4: out-neighbour mean (+1e-6), MLP, GRUCell; dense adjacency."""
    N = x.size(0)
    A = torch.zeros(N, N)
    A[edge_index[0], edge_index[1]] = 1.0
    h = x
    for _ in range(m.num_layers):
        msg = (A @ h) / (A.sum(1, keepdim=True) + 1e-6)
        lin1, lin2 = m.mlp[0], m.mlp[2]
        msg = torch.relu(lin2(torch.relu(lin1(msg))))
        h = m.rnn(msg, h)
    return h


def test_ggnn_literal_graph():
    m = ImageGraphGGNN(16, num_layers=2)
    assert str(m) == 'ImageGraphGGNN(16, num_layers=2)'
    out = m(torch.randn(4, 16), torch.tensor([[0, 1, 2, 3], [1, 0, 3, 0]]))
    assert out.shape == (4, 16)


@pytest.mark.parametrize('n', [0, 1, 3, 11])
def test_ggnn_equals_dense_reference(n):
    gen = torch.Generator().manual_seed(n)
    torch.manual_seed(n)
    m = ImageGraphGGNN(10, num_layers=3)
    for density in (0.0, 0.4, 1.0):
        keep = (torch.rand(n, n, generator=gen) < density) & ~torch.eye(n, dtype=torch.bool)
        edge_index = keep.nonzero().t().reshape(2, -1)
        x = torch.randn(n, 10, generator=gen)
        assert torch.allclose(m(x, edge_index), dense_reference(m, x, edge_index), atol=1e-5)


def test_ggnn_aggregates_out_neighbours():
    torch.manual_seed(0)
    m = ImageGraphGGNN(4, num_layers=1)
    x = torch.randn(3, 4)
    out = m(x, torch.tensor([[0], [1]]))  # 0 -> 1: node 0 hears node 1, node 1 hears nobody
    isolated = m(x, torch.zeros(2, 0, dtype=torch.long))
    assert not torch.allclose(out[0], isolated[0])
    assert torch.allclose(out[1:], isolated[1:])
