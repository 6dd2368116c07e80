import pytest
import torch
import torch.nn.functional as F

from pyg_sgg.nn.segmentation_refinement import (SegmentationRefinement, mask_bce_loss,
                                                mask_targets)

SCALES = [1 / 8, 1 / 16]


def maps(g, B=2, C=4):
    return [torch.randn(B, C, 12, 13, generator=g), torch.randn(B, C, 6, 7, generator=g)]


def test_at_initialisation_the_refined_masks_are_the_frozen_ones():
    g = torch.Generator().manual_seed(0)
    head = SegmentationRefinement(10, 4, 3, SCALES, hidden_channels=8, num_conv=2)
    boxes = torch.tensor([[5., 5, 40, 60], [0, 0, 90, 80], [10, 20, 30, 25]])
    logits = torch.randn(3, 3, 28, 28, generator=g) * 3
    out = head(torch.randn(3, 10, generator=g), maps(g), boxes, torch.tensor([0, 0, 1]), logits)
    assert out.shape == (3, 3, 28, 28)
    torch.testing.assert_close(out, logits, atol=1e-3, rtol=1e-3)  # the predictor starts at 0
    out.sum().backward()
    assert head.predictor.weight.grad.abs().sum() > 0  # and learns from there


def test_the_context_reaches_the_refined_masks():
    g = torch.Generator().manual_seed(0)
    head = SegmentationRefinement(10, 4, 3, SCALES, hidden_channels=8, num_conv=1)
    torch.nn.init.normal_(head.predictor.weight)
    boxes = torch.tensor([[5., 5, 40, 60]])
    ctx = torch.randn(1, 10, generator=g, requires_grad=True)
    out = head(ctx, maps(g, B=1), boxes, torch.zeros(1, dtype=torch.long),
               torch.zeros(1, 3, 28, 28))
    out.sum().backward()
    assert ctx.grad.abs().sum() > 0


def test_empty_and_shape_errors():
    head = SegmentationRefinement(10, 4, 3, SCALES, hidden_channels=8)
    g = torch.Generator().manual_seed(0)
    out = head(torch.zeros(0, 10), maps(g), torch.zeros(0, 4), torch.zeros(0, dtype=torch.long),
               torch.zeros(0, 3, 28, 28))
    assert out.shape == (0, 3, 28, 28)
    assert mask_bce_loss(out, torch.zeros(0, dtype=torch.long), torch.zeros(0, 28, 28)) == 0
    with pytest.raises(ValueError, match="mask_logits"):
        head(torch.zeros(1, 10), maps(g), torch.zeros(1, 4), torch.zeros(1, dtype=torch.long),
             torch.zeros(1, 2, 28, 28))


def test_mask_targets_crop_the_mask_to_its_box():
    masks = torch.zeros(2, 40, 50, dtype=torch.uint8)
    masks[0, 10:30, 20:40] = 1  # exactly box 0
    masks[1, :, :25] = 1  # the left half of box 1
    boxes = torch.tensor([[20., 10, 40, 30], [0, 0, 50, 40]])
    t = mask_targets(masks, boxes, 28)
    assert t.shape == (2, 28, 28)
    assert bool((t[0] == 1).all())
    assert bool((t[1, :, :13] == 1).all()) and bool((t[1, :, 15:] == 0).all())


def test_the_loss_reads_each_objects_own_class_channel():
    g = torch.Generator().manual_seed(0)
    refined = torch.randn(3, 4, 28, 28, generator=g)
    labels = torch.tensor([2, 4, 1])
    targets = (torch.rand(3, 28, 28, generator=g) > 0.5).float()
    expected = torch.stack([F.binary_cross_entropy_with_logits(refined[i, labels[i] - 1],
                                                                targets[i]) for i in range(3)])
    torch.testing.assert_close(mask_bce_loss(refined, labels, targets), expected.mean())
