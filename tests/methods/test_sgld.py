import torch

from pyg_sgg.methods.sgld import SGLD, min_max_normalize
from pyg_sgg.nn import EnergyModel


def graph(counts=(4, 3, 5), F=12, C=6, P=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    N = batch.numel()
    same = (batch[:, None] == batch[None]) & ~torch.eye(N, dtype=torch.bool)
    edge_index = same.nonzero().t().reshape(2, -1)
    return dict(x_img=torch.randn(N, F, generator=gen), x_sg=torch.rand(N, C, generator=gen),
                pos=torch.rand(N, 9, generator=gen), edge_index=edge_index, batch=batch,
                num_graphs=len(counts)), torch.randn(edge_index.size(1), P, generator=gen)


def energy_fn_for(model, g, record=None):
    def fn(edge_attr, x_sg):
        e = model(g['x_img'], g['x_sg'] if x_sg is None else x_sg, g['pos'], g['edge_index'],
                  edge_attr, g['batch'], g['num_graphs'])
        if record is not None:
            record.append(e.detach())
        return e
    return fn


def test_min_max_normalize():
    x = torch.tensor([[1.0, 3.0, 2.0], [5.0, 5.0, 5.0]])
    out = min_max_normalize(x)
    assert torch.allclose(out[0], torch.tensor([0.0, 1.0, 0.5]))
    assert torch.equal(out[1], torch.zeros(3))
    assert torch.isnan(min_max_normalize(x, eps=0.0)[1]).all()  # the authors' behaviour
    assert min_max_normalize(torch.zeros(0, 4)).shape == (0, 4)


def test_energy_decreases_along_chain():
    torch.manual_seed(0)
    model = EnergyModel(12, 6, 5, hidden_channels=16, pos_channels=8).eval()
    g, logits = graph(counts=(4, 3, 5, 6, 2, 4))
    record = []
    sampler = SGLD(num_steps=20)
    edge_attr, nodes = sampler.sample(energy_fn_for(model, g, record),
                                      min_max_normalize(logits))
    assert nodes is None
    record.append(energy_fn_for(model, g)(edge_attr, None).detach())
    energies = torch.stack(record)  # [steps + 1, B]
    steps = energies[1:] - energies[:-1]
    assert steps.mean() < 0
    assert (energies[-1] < energies[0]).float().mean() >= 0.8


def test_sgcls_moves_nodes_and_edges():
    torch.manual_seed(0)
    model = EnergyModel(12, 6, 5, hidden_channels=16, pos_channels=8).eval()
    g, logits = graph()
    x0 = min_max_normalize(g['x_sg'])
    e0 = min_max_normalize(logits)
    e, x = SGLD(num_steps=3).sample(energy_fn_for(model, g), e0, x0)
    assert not torch.allclose(x, x0) and not torch.allclose(e, e0)
    assert x.min() >= 0 and x.max() <= 1 and e.min() >= 0 and e.max() <= 1


def test_matches_authors_data_updates_values_and_gradients():
    """Same values and same gradient path as the authors' `.data`-based loop."""
    model = EnergyModel(12, 6, 5, hidden_channels=16, pos_channels=8).eval()
    g, logits = graph()
    fn = energy_fn_for(model, g)
    w = torch.randn_like(logits)
    sampler = SGLD(step_size=1.0, num_steps=5, noise_std=0.01, grad_clip=0.01, norm_eps=0.0)

    logits_a = logits.clone().requires_grad_()
    torch.manual_seed(1)
    ours, _ = sampler.sample(fn, min_max_normalize(logits_a, 0.0))
    (ours * w).sum().backward()

    logits_b = logits.clone().requires_grad_()
    torch.manual_seed(1)
    x = min_max_normalize(logits_b, 0.0)
    for _ in range(5):  # the authors' sampler.py, re-written from METHODS.md §1.5
        x.data += 0.01 * torch.randn_like(x)
        grad = torch.autograd.grad(fn(x, None).sum(), [x], retain_graph=True)[0]
        x.data -= 1.0 * grad.clamp(-0.01, 0.01)
        x = min_max_normalize(x, 0.0)
    (x * w).sum().backward()

    assert torch.allclose(ours, x, atol=1e-6)
    assert logits_a.grad.abs().sum() > 0
    assert torch.allclose(logits_a.grad, logits_b.grad, atol=1e-5)


def test_no_nan_200_steps_at_10x_step_size():
    torch.manual_seed(0)
    model = EnergyModel(12, 6, 5, hidden_channels=16, pos_channels=8)  # train mode (BN)
    g, logits = graph(counts=(3, 1, 0, 4))
    sampler = SGLD(step_size=10.0, num_steps=200)
    logits.requires_grad_()
    e, x = sampler.sample(energy_fn_for(model, g), min_max_normalize(logits),
                          min_max_normalize(g['x_sg']))
    assert torch.isfinite(e).all() and torch.isfinite(x).all()
    e.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_repr():
    assert repr(SGLD()) == 'SGLD(step_size=1.0, num_steps=20, noise_std=0.001, grad_clip=0.01)'
