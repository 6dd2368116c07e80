import torch

from pyg_sgg.nn import FrequencyBias


def test_frequency_bias_lookup_and_init():
    pred_dist = torch.randn(4, 4, 3)
    bias = FrequencyBias(4, 3, pred_dist)
    assert str(bias) == "FrequencyBias(4, 3)"
    subj, obj = torch.tensor([1, 3, 0]), torch.tensor([2, 1, 0])
    out = bias(subj, obj)
    assert out.size() == (3, 3)
    assert torch.allclose(out, pred_dist[subj, obj])

    # learnable, and reset_parameters restores the statistics
    out.sum().backward()
    assert bias.embedding.weight.grad is not None
    with torch.no_grad():
        bias.embedding.weight.add_(1.0)
    bias.reset_parameters()
    assert torch.allclose(bias(subj, obj), pred_dist[subj, obj])


def test_frequency_bias_soft_matches_hard_for_one_hot():
    pred_dist = torch.randn(5, 5, 4)
    bias = FrequencyBias(5, 4, pred_dist)
    subj, obj = torch.tensor([1, 4]), torch.tensor([2, 2])
    onehot = torch.nn.functional.one_hot
    soft = bias.forward_dist(onehot(subj, 5).float(), onehot(obj, 5).float())
    assert torch.allclose(soft, bias(subj, obj), atol=1e-6)
    # a mixture gives the expectation
    mix = torch.full((1, 5), 0.2)
    expected = pred_dist.mean(dim=(0, 1), keepdim=False)
    assert torch.allclose(bias.forward_dist(mix, mix)[0], expected, atol=1e-5)


def test_frequency_bias_empty_and_errors():
    bias = FrequencyBias(3, 2)
    assert bias(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)).size() \
        == (0, 2)
    assert bias.embedding.weight.abs().sum() == 0
    try:
        FrequencyBias(3, 2, torch.zeros(3, 3, 5))
    except ValueError as err:
        assert str(err).startswith("FrequencyBias: 'pred_dist' has shape")
    else:
        raise AssertionError("bad pred_dist shape accepted")
