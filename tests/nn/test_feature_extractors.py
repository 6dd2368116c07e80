"""The trainable relation feature extractors: the pooler against torchvision's, the
rectangles against a hand-computed case, the spatial branch's shapes, batching, empties."""
import pytest
import torch
from torchvision.ops import MultiScaleRoIAlign

from pyg_sgg.nn import BoxFeatureExtractor, RoIPooler, UnionFeatureExtractor, pair_rectangles


def _maps(batch=2, channels=4, size=(64, 96), seed=0):
    g = torch.Generator().manual_seed(seed)
    h, w = size
    return [torch.randn(batch, channels, h // s, w // s, generator=g) for s in (4, 8, 16)]


def _boxes(n, size=(64, 96), seed=1):
    g = torch.Generator().manual_seed(seed)
    h, w = size
    xy = torch.rand(n, 2, generator=g) * torch.tensor([w - 10, h - 10])
    wh = torch.rand(n, 2, generator=g) * 60 + 2
    b = torch.cat([xy, xy + wh], 1)
    return torch.minimum(b, torch.tensor([w, h, w, h]).float())


def test_pooler_matches_torchvision_multiscale_roi_align():
    maps, size = _maps(), (64, 96)
    boxes = torch.cat([_boxes(20, seed=1), torch.tensor([[0., 0., 96., 64.]])])  # + whole image
    batch = torch.tensor([0] * 11 + [1] * 10)
    ref_pool = MultiScaleRoIAlign(["0", "1", "2"], 5, sampling_ratio=2,
                                  canonical_scale=16, canonical_level=3)
    feats = {str(i): m for i, m in enumerate(maps)}
    ref = ref_pool(feats, [boxes[batch == 0], boxes[batch == 1]], [size, size])
    ours = RoIPooler(5, [1 / 4, 1 / 8, 1 / 16], 2, canonical_scale=16, canonical_level=3)
    assert ours.levels(boxes).unique().numel() > 1  # the boxes span several levels
    assert torch.equal(ours(maps, boxes, batch), ref)


def test_pooler_all_levels_concatenates():
    maps = _maps()
    boxes = _boxes(3)
    pooler = RoIPooler(7, [1 / 4, 1 / 8, 1 / 16], all_levels=True)
    out = pooler(maps, boxes, torch.zeros(3, dtype=torch.long))
    assert out.shape == (3, 12, 7, 7)
    one = RoIPooler(7, [1 / 8], all_levels=False)(maps[1:2], boxes, torch.zeros(3).long())
    assert torch.equal(out[:, 4:8], one)
    with pytest.raises(ValueError, match="2 maps for 3 scales"):
        pooler(maps[:2], boxes, torch.zeros(3, dtype=torch.long))


def test_pair_rectangles_hand_case():
    # image 20 high, 40 wide, grid 7: x scales by 7/40, y by 7/20
    boxes = torch.tensor([[0., 0., 10., 10.], [20., 8., 40., 20.]])
    rect = pair_rectangles(boxes, torch.tensor([[0], [1]]), torch.tensor([[20, 40]] * 2), 7)
    assert rect.shape == (1, 2, 7, 7)
    subj = torch.zeros(7, 7)
    subj[0:5, 0:3] = 1  # x: floor 0 .. ceil 1.75 = 2; y: floor 0 .. ceil 3.5 = 4
    obj = torch.zeros(7, 7)
    obj[2:7, 3:7] = 1  # x: floor 3.5 = 3 .. ceil 7 (past the grid); y: floor 2.8 = 2 .. 7
    assert torch.equal(rect[0, 0], subj) and torch.equal(rect[0, 1], obj)


@pytest.mark.parametrize("resolution", [7, 28])
def test_spatial_branch_comes_out_at_the_pooler_resolution(resolution):
    ext = UnionFeatureExtractor(4, resolution, [1 / 8, 1 / 16], 16, all_levels=True)
    assert ext.rect_size == 4 * resolution - 1
    out = ext.spatial(torch.zeros(3, 2, ext.rect_size, ext.rect_size))
    assert out.shape == (3, 4, resolution, resolution)


def test_union_extractor_batching_empty_and_gradients():
    torch.manual_seed(0)
    maps = _maps()[1:]
    ext = UnionFeatureExtractor(4, 7, [1 / 8, 1 / 16], 16, sampling_ratio=2).eval()
    boxes = _boxes(5)
    batch = torch.tensor([0, 0, 0, 1, 1])
    sizes = torch.tensor([[64, 96]] * 5)
    edges = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 0, 4, 3]])
    both = ext(maps, boxes, edges, batch, sizes)
    assert both.shape == (5, 16)
    first = ext([m[:1] for m in maps], boxes[:3], edges[:, :3], batch[:3], sizes[:3])
    second = ext([m[1:] for m in maps], boxes[3:], edges[:, 3:] - 3, batch[3:] - 1, sizes[3:])
    assert torch.allclose(both, torch.cat([first, second]), atol=1e-6)
    empty = ext(maps, boxes, torch.zeros(2, 0, dtype=torch.long), batch, sizes)
    assert empty.shape == (0, 16)
    ext.train()
    ext(maps, boxes, edges, batch, sizes).sum().backward()
    for part in (ext.box.fc6, ext.reduce[0], ext.spatial[0]):
        assert part.weight.grad is not None and part.weight.grad.abs().sum() > 0


def test_box_extractor_empty_and_head_loading_checks_shapes():
    ext = BoxFeatureExtractor(4, 7, [1 / 8], 16)
    assert ext([torch.zeros(1, 4, 8, 8)], torch.zeros(0, 4), torch.zeros(0).long()).shape == (0, 16)
    wrong = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.Linear(16, 16))
    with pytest.raises(ValueError, match="does not fit"):
        ext.load_box_head(wrong)
    with pytest.raises(ValueError, match="expected 2"):
        ext.load_box_head(torch.nn.Linear(4, 4))
