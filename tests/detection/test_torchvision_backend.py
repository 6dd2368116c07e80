import torch

from pyg_sgg.data.scene_graph import all_pairs
from pyg_sgg.nn.box_geometry import pair_union_boxes
from pyg_sgg.detection.torchvision_backend import TorchvisionDetector

from .test_joint_mask_rcnn import tiny_model

BOXES = torch.tensor([[2., 3, 30, 40], [10, 10, 60, 50], [40, 5, 78, 30], [0, 0, 79, 63]])


def test_extract_shapes_and_pair_order():
    det = TorchvisionDetector(tiny_model())
    img = torch.rand(3, 64, 80)
    f = det.extract([img], [BOXES], [torch.tensor([1, 2, 3, 4])])[0]
    assert f.roi_features.shape == (4, det.feature_dim)
    assert f.pair_features.shape == (12, det.pair_feature_dim)
    assert f.class_logits.shape == (4, 5)
    assert f.mask_logits.shape == (4, 3, 28, 28)
    assert f.labels.tolist() == [1, 2, 3, 4] and f.scores.tolist() == [1.0] * 4
    # pair row e is the union box of all_pairs()[:, e]
    pairs = all_pairs(torch.tensor([4]))
    union = pair_union_boxes(BOXES, pairs)
    g = det.extract([img], [union])[0]
    assert torch.equal(g.roi_features, f.pair_features)


def test_extract_is_order_independent():
    det = TorchvisionDetector(tiny_model())
    img = torch.rand(3, 64, 80)
    perm = torch.tensor([2, 0, 3, 1])
    a = det.extract([img], [BOXES])[0]
    b = det.extract([img], [BOXES[perm]])[0]
    assert torch.equal(a.roi_features[perm], b.roi_features)
    assert torch.equal(a.class_logits[perm], b.class_logits)
    assert torch.equal(a.mask_logits[perm], b.mask_logits)
    # pair (i, j) of the permuted boxes = pair (perm[i], perm[j]) of the original ones
    pa, pb = all_pairs(torch.tensor([4])), all_pairs(torch.tensor([4]))
    key_a = {(int(i), int(j)): e for e, (i, j) in enumerate(pa.t())}
    rows = [key_a[(int(perm[i]), int(perm[j]))] for i, j in pb.t()]
    assert torch.equal(a.pair_features[rows], b.pair_features)


def test_zero_and_one_box_and_batch():
    det = TorchvisionDetector(tiny_model())
    imgs = [torch.rand(3, 64, 80), torch.rand(3, 48, 64), torch.rand(3, 64, 80)]
    out = det.extract(imgs, [torch.zeros(0, 4), BOXES[:1], BOXES])
    assert out[0].roi_features.shape == (0, det.feature_dim)
    assert out[0].pair_features.shape == (0, det.pair_feature_dim)
    assert out[0].mask_logits.shape == (0, 3, 28, 28)
    assert out[1].roi_features.shape == (1, det.feature_dim)
    assert out[1].pair_features.shape == (0, det.pair_feature_dim)
    assert out[2].pair_features.shape == (12, det.pair_feature_dim)
    assert det.extract([], []) == []


def test_detect_cap_and_zero_detections():
    model = tiny_model()
    det = TorchvisionDetector(model, detections_per_img=5)
    model.roi_heads.score_thresh = 0.0
    imgs = [torch.rand(3, 64, 80), torch.rand(3, 48, 64)]
    out = det.detect(imgs)
    for f in out:
        n = f.boxes.size(0)
        assert 0 < n <= 5
        assert f.roi_features.shape == (n, det.feature_dim)
        assert f.pair_features.shape == (n * (n - 1), det.pair_feature_dim)
        assert f.class_logits.shape == (n, 5) and f.mask_logits.shape == (n, 3, 28, 28)
        assert bool((f.labels >= 1).all())
    model.roi_heads.score_thresh = 1.1  # nothing passes
    out = det.detect(imgs)
    assert [f.boxes.shape for f in out] == [(0, 4), (0, 4)]
    assert out[0].pair_features.shape == (0, det.pair_feature_dim)


def test_box_only_detector_has_no_masks():
    det = TorchvisionDetector(tiny_model(num_mask_classes=0))
    f = det.extract([torch.rand(3, 64, 80)], [BOXES])[0]
    assert f.mask_logits is None and not det.masks
