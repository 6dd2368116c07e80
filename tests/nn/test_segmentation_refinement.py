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


def test_the_polar_head_starts_at_the_frozen_contour_and_learns():
    from pyg_sgg.nn.polar_contour import polar_targets
    g = torch.Generator().manual_seed(0)
    head = SegmentationRefinement(10, 4, 3, SCALES, hidden_channels=8, num_conv=1,
                                  head="polar", num_rays=24)
    boxes = torch.tensor([[5., 5, 40, 60], [0, 0, 90, 80], [10, 20, 30, 25]])
    ys, xs = torch.meshgrid(torch.arange(28) + 0.5, torch.arange(28) + 0.5, indexing="ij")
    disc = ((xs - 12) ** 2 + (ys - 15) ** 2 <= 49).float()
    logits = torch.full((3, 3, 28, 28), -5.0)
    logits[:, 1] = disc * 10 - 5  # class 2 of every object: the disc
    labels = torch.tensor([2, 2, 1])
    ctx = torch.randn(3, 10, generator=g)
    centre, rays = head.contour(ctx, maps(g), boxes, torch.tensor([0, 0, 1]), logits, labels)
    c0, d0 = polar_targets(logits[torch.arange(3), labels - 1] > 0, 24)
    assert torch.equal(centre, c0) and torch.equal(rays, d0)  # the linear layer starts at 0
    out = head(ctx, maps(g), boxes, torch.tensor([0, 0, 1]), logits, labels=labels)
    assert out.shape == (3, 3, 28, 28)
    iou = ((out[0, 0] > 0) & disc.bool()).sum() / ((out[0, 0] > 0) | disc.bool()).sum()
    assert iou > 0.9  # the frozen disc, assembled from its rays
    rays.sum().backward()
    assert head.polar[2].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="labels"):
        head(ctx, maps(g), boxes, torch.tensor([0, 0, 1]), logits)
    empty = head.contour(torch.zeros(0, 10), maps(g), torch.zeros(0, 4),
                         torch.zeros(0, dtype=torch.long), torch.zeros(0, 3, 28, 28),
                         torch.zeros(0, dtype=torch.long))
    assert empty[0].shape == (0, 2) and empty[1].shape == (0, 24)


def test_instance_targets_inside_each_box():
    from pyg_sgg.nn.segmentation_refinement import instance_targets
    masks = torch.zeros(3, 40, 40, dtype=torch.uint8)
    masks[0, 0:20, 0:20] = 1
    masks[1, 10:30, 10:30] = 1  # overlaps object 0
    masks[2, 35:40, 35:40] = 1  # far from both
    boxes = torch.tensor([[0., 0, 20, 20], [10, 10, 30, 30], [35, 35, 40, 40]])
    t = instance_targets(masks, boxes, 8)
    assert t.shape == (3, 8, 8) and t.dtype == torch.long
    assert bool((t[0] == 1).all())  # the object wins over object 1 where they overlap
    assert int(t[1, 0, 0]) == 1 and int(t[1, 7, 7]) == 1  # box 1 is object 1's own box
    assert bool((t[2] == 1).all())
    masks[1] = 0
    masks[1, 10:30, 20:30] = 1  # object 1 now covers only the right half of its box
    t = instance_targets(masks, boxes, 8)
    assert int(t[1, 7, 0]) == 0 and int(t[1, 0, 0]) == 2 and int(t[1, 4, 6]) == 1
    assert instance_targets(masks[:0], boxes[:0], 8).shape == (0, 8, 8)


def test_embeddings_come_with_the_per_pixel_masks():
    g = torch.Generator().manual_seed(0)
    head = SegmentationRefinement(10, 4, 3, SCALES, hidden_channels=8, num_conv=1,
                                  embedding_dim=5)
    boxes = torch.tensor([[5., 5, 40, 60]])
    logits = torch.randn(1, 3, 28, 28, generator=g)
    out, emb = head(torch.randn(1, 10, generator=g), maps(g, B=1), boxes,
                    torch.zeros(1, dtype=torch.long), logits, return_embeddings=True)
    assert emb.shape == (1, 5, 28, 28)
    torch.testing.assert_close(out, logits, atol=1e-3, rtol=1e-3)
    emb.sum().backward()
    assert head.embed.weight.grad.abs().sum() > 0
