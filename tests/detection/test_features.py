import pytest
import torch
from torch_geometric.data import Batch

from pyg_sgg.data.scene_graph import all_pairs
from pyg_sgg.detection.features import DetectorFeatureDataset, FeatureCache, weights_hash
from pyg_sgg.detection.torchvision_backend import TorchvisionDetector

from .test_joint_mask_rcnn import tiny_model


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32])
def test_cache_bit_identical_to_fresh_extraction(shapes, tmp_path, dtype):
    ds = shapes(4, 4, seed=5, empty_first=True)
    det = TorchvisionDetector(tiny_model())
    cache = FeatureCache(det, ds, "predcls", root=tmp_path, dtype=dtype, masks=True,
                         progress=False).build()
    assert cache.exists
    for i in range(len(ds)):
        g = ds[i]
        fresh = det.extract([ds.load_image(i)], [g.boxes], [g.labels])[0]
        got = cache[i]
        assert torch.equal(got.roi_features, fresh.roi_features.to(dtype))
        assert torch.equal(got.pair_features, fresh.pair_features.to(dtype))
        assert torch.equal(got.mask_logits, fresh.mask_logits.to(dtype))
        assert torch.equal(got.class_logits, fresh.class_logits)
        assert torch.equal(got.boxes, fresh.boxes) and torch.equal(got.labels, g.labels)
    assert cache[0].roi_features.shape == (0, det.feature_dim)  # empty image
    # a second cache object finds the entry and does not recompute
    again = FeatureCache(det, ds, "sgcls", root=tmp_path, dtype=dtype, masks=True,
                         progress=False)
    assert again.exists and again.path == cache.path


def test_cache_invalidated_by_weights_and_split(shapes, tmp_path):
    ds = shapes(3, 4, seed=6)
    model = tiny_model()
    det = TorchvisionDetector(model)
    old = FeatureCache(det, ds, root=tmp_path, progress=False).build()
    h = weights_hash(model)
    with torch.no_grad():
        model.roi_heads.box_head.fc6.weight.add_(0.01)
    assert weights_hash(model) != h
    new = FeatureCache(det, ds, root=tmp_path, progress=False)
    assert new.path != old.path and not new.exists
    new.build()
    assert not old.path.exists()  # stale entry of the same split removed
    g = ds[1]
    fresh = det.extract([ds.load_image(1)], [g.boxes], [g.labels])[0]
    assert torch.equal(new[1].roi_features, fresh.roi_features.half())
    other = FeatureCache(det, shapes(3, 4, seed=7), root=tmp_path, progress=False)
    assert other.path.parent != new.path.parent and not other.exists


def test_feature_dataset_predcls(shapes, tmp_path):
    ds = shapes(3, 4, seed=8, empty_first=True)
    det = TorchvisionDetector(tiny_model())
    cached = DetectorFeatureDataset(ds, det, "predcls", root=tmp_path, progress=False)
    live = DetectorFeatureDataset(ds, det, "predcls", cache=False)
    for i in range(3):
        a, b = cached[i], live[i]
        n = a.boxes.size(0)
        assert a.x.shape == (n, det.feature_dim) and a.x.dtype == torch.float32
        assert torch.equal(a.edge_index, all_pairs(torch.tensor([n])))
        assert a.edge_attr.shape == (n * (n - 1), det.pair_feature_dim)
        assert a.det_logits.shape == (n, 5)
        assert torch.equal(a.x, b.x.half().float())
    batch = Batch.from_data_list([cached[i] for i in range(3)])
    assert batch.edge_index.size(1) == batch.edge_attr.size(0)
    assert int(batch.edge_index.max()) < batch.num_nodes


def test_feature_dataset_sgdet(shapes, tmp_path):
    ds = shapes(2, 4, seed=9)
    model = tiny_model()
    model.roi_heads.score_thresh = 0.0
    det = TorchvisionDetector(model, detections_per_img=4)
    data = DetectorFeatureDataset(ds, det, "sgdet", root=tmp_path, progress=False)
    g = data[1]
    n = g.boxes.size(0)
    assert 0 < n <= 4 and g.det_scores.shape == (n,)
    assert g.x.shape == (n, det.feature_dim) and g.edge_attr.size(0) == n * (n - 1)
    gt = ds[1]
    assert torch.equal(g.gt_boxes, gt.boxes) and torch.equal(g.gt_labels, gt.labels)
    assert g.gt_triplets.shape == (0, 3) and g.num_gt.tolist() == [gt.boxes.size(0)]
    assert g.gt_rel_index.shape == (2, 0)
    fresh = det.detect([ds.load_image(1)])[0]
    assert torch.equal(g.boxes, fresh.boxes)
    assert torch.equal(g.x, fresh.roi_features.half().float())
    model.roi_heads.score_thresh = 1.1  # zero detections
    empty = DetectorFeatureDataset(ds, det, "sgdet", cache=False)[0]
    assert empty.boxes.shape == (0, 4) and empty.edge_index.shape == (2, 0)


def test_bad_mode(shapes):
    with pytest.raises(ValueError, match="mode"):
        DetectorFeatureDataset(shapes(1), TorchvisionDetector(tiny_model()), "detect")


class _WithImageFiles:
    """``ds`` whose graphs name an image file under ``folder`` (the same bytes anywhere)."""

    def __init__(self, ds, folder):
        self.ds, self.folder = ds, folder
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(len(ds)):
            (folder / f"{i}.jpg").write_bytes(bytes([i]) * (100 + i))

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        g = self.ds[i]
        g.image_path = str(self.folder / f"{i}.jpg")
        return g

    def load_image(self, i):
        return self.ds.load_image(i)


def test_copied_cache_and_moved_images_keep_their_features(shapes, tmp_path, caplog):
    import logging
    import shutil
    ds = shapes(3, 4, seed=8)
    det = TorchvisionDetector(tiny_model())
    a = _WithImageFiles(ds, tmp_path / "images_a")
    with caplog.at_level(logging.INFO, logger="pyg_sgg.detection.features"):
        built = FeatureCache(det, a, root=tmp_path / "cache_a", progress=False).build()
    assert "this split (images, boxes, labels) has no cache yet" in caplog.text
    shutil.copytree(tmp_path / "cache_a", tmp_path / "cache_b")
    b = _WithImageFiles(ds, tmp_path / "elsewhere" / "images")
    copied = FeatureCache(det, b, root=tmp_path / "cache_b", progress=False)
    assert copied.exists and copied.path.name == built.path.name  # reused, not rebuilt
    (tmp_path / "elsewhere" / "images" / "1.jpg").write_bytes(b"other image")
    assert not FeatureCache(det, b, root=tmp_path / "cache_b", progress=False).exists


def test_why_missing_names_the_changed_weights(shapes, tmp_path):
    ds = shapes(2, 4, seed=9)
    model = tiny_model()
    FeatureCache(TorchvisionDetector(model), ds, root=tmp_path, progress=False).build()
    with torch.no_grad():
        model.roi_heads.box_head.fc6.weight.add_(0.01)
    stale = FeatureCache(TorchvisionDetector(model), ds, root=tmp_path, progress=False)
    assert stale.why_missing() == "the detector weights changed"
