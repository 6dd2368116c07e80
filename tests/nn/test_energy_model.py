import pytest
import torch

from pyg_sgg.nn import EnergyModel


def inputs(counts, F=16, C=5, P=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    N = int(batch.numel())
    same = (batch[:, None] == batch[None]) & ~torch.eye(N, dtype=torch.bool)
    edge_index = same.nonzero().t().reshape(2, -1)
    return (torch.randn(N, F, generator=gen), torch.rand(N, C, generator=gen),
            torch.rand(N, 9, generator=gen), edge_index,
            torch.rand(edge_index.size(1), P, generator=gen), batch)


def test_energy_model_shapes_and_repr():
    torch.manual_seed(0)
    m = EnergyModel(16, 5, 4, hidden_channels=8, pos_channels=6)
    assert str(m) == 'EnergyModel(16, 5, 4, hidden_channels=8)'
    x_img, x_sg, pos, ei, ea, batch = inputs([3, 0, 1, 4])
    energy = m(x_img, x_sg, pos, ei, ea, batch, num_graphs=4)
    assert energy.shape == (4,) and torch.isfinite(energy).all()
    energy.sum().backward()
    assert all(p.grad is not None for n, p in m.named_parameters() if 'pos_embed.1' not in n)


def test_energy_model_graphs_are_independent():
    torch.manual_seed(0)
    m = EnergyModel(16, 5, 4, hidden_channels=8, pos_channels=6).eval()
    x_img, x_sg, pos, ei, ea, batch = inputs([3, 2])
    both = m(x_img, x_sg, pos, ei, ea, batch, 2)
    keep = batch == 0
    e_keep = keep[ei[0]]
    alone = m(x_img[keep], x_sg[keep], pos[keep], ei[:, e_keep], ea[e_keep])
    assert torch.allclose(both[0], alone[0], atol=1e-5)


def test_energy_model_empty_and_single():
    m = EnergyModel(16, 5, 4, hidden_channels=8, pos_channels=6)
    for counts in ([0], [1], [0, 1]):
        x_img, x_sg, pos, ei, ea, batch = inputs(counts)
        out = m(x_img, x_sg, pos, ei, ea, batch, num_graphs=len(counts))
        assert out.shape == (len(counts),) and torch.isfinite(out).all()


def test_energy_model_bad_input():
    m = EnergyModel(16, 5, 4, hidden_channels=8)
    x_img, x_sg, pos, ei, ea, batch = inputs([3])
    with pytest.raises(ValueError, match="'x_sg'"):
        m(x_img, x_sg[:, :3], pos, ei, ea, batch)


def test_energy_model_lazy_widths():
    torch.manual_seed(0)
    m = EnergyModel(-1, -1, -1, hidden_channels=8, pos_channels=6)
    assert str(m) == 'EnergyModel(-1, -1, -1, hidden_channels=8)'
    x_img, x_sg, pos, ei, ea, batch = inputs([3, 2])
    assert m(x_img, x_sg, pos, ei, ea, batch).shape == (2,)
    assert m.img_embed.weight.shape == (8, 16) and m.edge_embed.weight.shape == (8, 4)
