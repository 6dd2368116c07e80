import torch

from pyg_sgg.nn import GatedPooling


def test_gated_pooling_raw_gate():
    torch.manual_seed(0)
    pool = GatedPooling(6, 5, edge_channels=3)
    assert str(pool) == 'GatedPooling(6, 5, edge_channels=3)'
    x, e = torch.randn(5, 6), torch.randn(4, 3)
    batch = torch.tensor([0, 0, 2, 2, 2])  # graph 1 is empty
    edge_batch = torch.tensor([0, 2, 2, 2])
    out = pool(x, batch, e, edge_batch, dim_size=3)
    assert out.shape == (3, 5)
    for b in range(3):
        xb, eb = x[batch == b], e[edge_batch == b]
        pn = (pool.gate(xb) * xb).sum(0)  # raw linear gate: no sigmoid, no softmax
        pe = (pool.edge_gate(eb) * eb).sum(0)
        assert torch.allclose(out[b], pool.lin(torch.cat([pn, pe])), atol=1e-6)


def test_gated_pooling_softmax_flag():
    torch.manual_seed(0)
    pool = GatedPooling(6, 4, softmax=True)
    assert str(pool) == 'GatedPooling(6, 4, softmax=True)'
    x, batch = torch.randn(5, 6), torch.tensor([0, 0, 1, 1, 1])
    out = pool(x, batch)
    for b in range(2):
        xb = x[batch == b]
        w = torch.softmax(pool.gate(xb), dim=0)
        assert torch.allclose(out[b], pool.lin((w * xb).sum(0)), atol=1e-6)


def test_gated_pooling_empty_and_no_batch():
    pool = GatedPooling(3, 2, edge_channels=3)
    out = pool(torch.randn(0, 3), torch.zeros(0, dtype=torch.long), torch.randn(0, 3),
               torch.zeros(0, dtype=torch.long), dim_size=2)
    assert torch.allclose(out, pool.lin.bias.expand(2, 2))
    assert GatedPooling(3, 2)(torch.randn(4, 3)).shape == (1, 2)
