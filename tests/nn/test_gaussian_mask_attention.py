import math

import pytest
import torch
import torch.nn.functional as F

from pyg_sgg.nn.gaussian_mask_attention import (GATHER_BY_PRODUCT_MAX_OBJECTS,
                                                GaussianMaskAttention,
                                                gather_channels_last, gaussian_kernels)


def closed_form(x, y, sx, sy, rho):
    u, w = x / sx, y / sy
    return math.exp(-(u * u + w * w - 2 * rho * u * w) / (2 * (1 - rho * rho)))


@pytest.mark.parametrize("sx, sy, rho", [(1.0, 1.0, 0.0), (0.7, 2.5, 0.6), (3.0, 1.2, -0.8)])
def test_kernel_sums_to_one_and_matches_the_closed_form(sx, sy, rho):
    k = gaussian_kernels(torch.tensor([sx]), torch.tensor([sy]), torch.tensor([rho]))[0]
    assert k.shape == (7, 7)
    assert float(k.sum()) == pytest.approx(1.0, abs=1e-6)
    raw = torch.tensor([[closed_form(x, y, sx, sy, rho) for x in range(-3, 4)]
                        for y in range(-3, 4)])
    torch.testing.assert_close(k, (raw / raw.sum()).float(), atol=1e-6, rtol=1e-5)


def test_pairs_batched_equal_one_at_a_time_and_equal_a_plain_convolution():
    torch.manual_seed(0)
    att = GaussianMaskAttention(num_classes=5)
    masks = torch.rand(4, 3, 12, 12)
    dist = torch.softmax(torch.randn(4, 5), -1)
    ei = torch.tensor([[0, 1, 2, 3, 0], [1, 0, 3, 2, 2]])
    out = att(masks, dist, ei)
    assert out.shape == (5, 3, 12, 12)
    for e in range(ei.size(1)):
        one = att(masks, dist, ei[:, e:e + 1])
        torch.testing.assert_close(out[e:e + 1], one)
    k_h, k_t = att.kernels(dist, ei)
    h = F.conv2d(masks[ei[0, 0]].unsqueeze(1), k_h[0].view(1, 1, 7, 7), padding=3).squeeze(1)
    t = F.conv2d(masks[ei[1, 0]].unsqueeze(1), k_t[0].view(1, 1, 7, 7), padding=3).squeeze(1)
    torch.testing.assert_close(out[0], torch.sigmoid(h * t))
    out.sum().backward()
    assert att.variance_net.weight.grad.abs().sum() > 0


def test_ablation_modes_and_empty_pairs():
    masks = torch.rand(3, 2, 6, 6)
    dist = torch.softmax(torch.randn(3, 4), -1)
    ei = torch.tensor([[0, 2], [1, 0]])
    avg = GaussianMaskAttention(4, mode="avg")(masks, dist, ei)
    torch.testing.assert_close(avg[1], (masks[2] + masks[0]) / 2)
    union = GaussianMaskAttention(4, mode="union")(masks, dist, ei)
    torch.testing.assert_close(union[0], torch.maximum(masks[0], masks[1]))
    empty = GaussianMaskAttention(4)(masks, dist, torch.zeros(2, 0, dtype=torch.long))
    assert empty.shape == (0, 2, 6, 6)
    with pytest.raises(ValueError, match="mode must be one of"):
        GaussianMaskAttention(4, mode="diff")


@pytest.mark.parametrize("num_objects", [1, 7, GATHER_BY_PRODUCT_MAX_OBJECTS,
                                         GATHER_BY_PRODUCT_MAX_OBJECTS + 1])
def test_the_pairs_masks_are_gathered_exactly_by_either_path(num_objects):
    """The one-hot product (up to the threshold) and the row gather (above) give the masks
    bit for bit, pairs innermost; also their gradient, and with no pairs."""
    g = torch.Generator().manual_seed(num_objects)
    masks = torch.rand(num_objects, 3, 5, 5, generator=g).requires_grad_()
    index = torch.randint(0, num_objects, (9,), generator=g)
    out = gather_channels_last(masks, index)
    assert out.shape == (3, 5, 5, 9) and out.is_contiguous()
    assert torch.equal(out, masks.detach().permute(1, 2, 3, 0)[..., index])
    weight = torch.rand(out.shape, generator=g)
    (out * weight).sum().backward()
    expected = torch.zeros_like(masks).index_add_(0, index, weight.permute(3, 0, 1, 2))
    torch.testing.assert_close(masks.grad, expected)
    assert gather_channels_last(masks, index[:0]).shape == (3, 5, 5, 0)


def test_the_kernels_gradient_equals_that_of_a_plain_convolution_per_pair():
    """The layout-changing steps (gather, transposition and its backward) change no
    gradient: the variance net's gradient equals that of per-pair plain convolutions."""
    torch.manual_seed(1)
    att = GaussianMaskAttention(num_classes=5).double()
    masks = torch.rand(4, 3, 10, 10, dtype=torch.float64)
    dist = torch.softmax(torch.randn(4, 5, dtype=torch.float64), -1)
    ei = torch.tensor([[0, 1, 2, 3, 0, 3], [1, 0, 3, 2, 2, 1]])
    weight = torch.rand(6, 3, 10, 10, dtype=torch.float64)
    (att(masks, dist, ei) * weight).sum().backward()
    got = att.variance_net.weight.grad.clone()
    att.zero_grad()
    k_h, k_t = att.kernels(dist, ei)
    ref = torch.stack([torch.sigmoid(
        F.conv2d(masks[ei[0, e]].unsqueeze(1), k_h[e].view(1, 1, 7, 7), padding=3)
        * F.conv2d(masks[ei[1, e]].unsqueeze(1), k_t[e].view(1, 1, 7, 7), padding=3)
    ).squeeze(1) for e in range(ei.size(1))])
    (ref * weight).sum().backward()
    torch.testing.assert_close(got, att.variance_net.weight.grad)
    assert got.abs().sum() > 0
    assert att(masks, dist, ei).is_contiguous(memory_format=torch.channels_last)
