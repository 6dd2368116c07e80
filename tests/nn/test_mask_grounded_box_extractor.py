import pytest
import torch

from pyg_sgg.nn.mask_grounded_box_extractor import MaskGroundedBoxExtractor

SCALES = [1 / 4, 1 / 8]


def maps(batch=2, channels=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, channels, 24, 32, generator=g),
            torch.randn(batch, channels, 12, 16, generator=g)]


@pytest.mark.parametrize("pool_to", [28, 7])
def test_batched_over_images_equals_one_image_at_a_time(pool_to):
    torch.manual_seed(0)
    ext = MaskGroundedBoxExtractor(6, 5, SCALES, 16, resolution=28, pool_to=pool_to)
    m = maps()
    boxes = torch.tensor([[0, 0, 40, 40], [10, 20, 90, 80], [5, 5, 60, 30.0]])
    batch = torch.tensor([0, 1, 1])
    masks = torch.rand(3, 5, 28, 28)
    out = ext(m, boxes, batch, masks)
    assert out.shape == (3, 16) and bool((out >= 0).all())
    for i in range(3):
        b = int(batch[i])
        one = ext([x[b:b + 1] for x in m], boxes[i:i + 1], torch.zeros(1, dtype=torch.long),
                  masks[i:i + 1])
        torch.testing.assert_close(out[i:i + 1], one, atol=1e-5, rtol=1e-5)
    out.sum().backward()
    assert ext.mask_combiner.weight.grad[:, 6:].abs().sum() > 0  # the masks shape the output


def test_the_masks_matter_empty_boxes_and_shape_errors():
    torch.manual_seed(0)
    ext = MaskGroundedBoxExtractor(6, 5, SCALES, 16, pool_to=7)
    m = maps(1)
    boxes, batch = torch.tensor([[0, 0, 40, 40.0]]), torch.zeros(1, dtype=torch.long)
    a = ext(m, boxes, batch, torch.zeros(1, 5, 28, 28))
    b = ext(m, boxes, batch, torch.ones(1, 5, 28, 28))
    assert not torch.allclose(a, b)
    assert ext(m, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long),
               torch.zeros(0, 5, 28, 28)).shape == (0, 16)
    with pytest.raises(ValueError, match="masks of shape"):
        ext(m, boxes, batch, torch.zeros(1, 4, 28, 28))
    with pytest.raises(ValueError, match="must divide"):
        MaskGroundedBoxExtractor(6, 5, SCALES, 16, pool_to=5)
    assert ext.fc6.in_features == 6 * 49


def test_the_split_combiner_is_the_convolution_of_the_concatenation():
    """The head convolves the pooled map and the masks separately (speed); the result and
    every gradient are those of the authors' ``mask_combiner(cat([pooled, masks]))``."""
    torch.manual_seed(0)
    ext = MaskGroundedBoxExtractor(6, 5, SCALES, 16, pool_to=7)
    pooled, masks = torch.randn(3, 6, 28, 28), torch.rand(3, 5, 28, 28, requires_grad=True)
    out = ext.head(pooled, masks)
    out.square().sum().backward()
    grads = [masks.grad.clone()] + [p.grad.clone() for p in ext.parameters()]
    masks.grad = None
    ext.zero_grad()
    x = torch.nn.functional.avg_pool2d(ext.mask_combiner(torch.cat([pooled, masks], 1)), 4)
    ref = torch.relu(ext.fc7(torch.relu(ext.fc6(x.flatten(1)))))
    ref.square().sum().backward()
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    for g, r in zip(grads, [masks.grad] + [p.grad for p in ext.parameters()]):
        torch.testing.assert_close(g, r, atol=1e-4, rtol=1e-4)
