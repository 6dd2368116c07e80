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
