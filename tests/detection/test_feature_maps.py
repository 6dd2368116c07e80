"""The trainable feature mode's data side: the extractors reproduce the detector's box head
before training, the FPN-map cache (exact reads, invalidation, killed builds), batching."""
import os

import pytest
import torch

from pyg_sgg.data.loader import collate_scene_graphs
from pyg_sgg.detection.feature_maps import FeatureMapCache
from pyg_sgg.detection.features import DetectorFeatureDataset
from pyg_sgg.detection.memmap_store import remove_dead_builds
from pyg_sgg.detection.torchvision_backend import TorchvisionDetector
from pyg_sgg.models.scene_graph_model import SceneGraphModel

from .test_joint_mask_rcnn import tiny_model


class _TwoSizes:
    """Images of two sizes (so batching pads), one empty and one single-object image."""

    def __init__(self, shapes):
        self.parts = [shapes(3, 4, seed=11, size=(64, 80), empty_first=True, max_objects=1),
                      shapes(3, 4, seed=12, size=(96, 64), max_objects=4)]
        self.object_classes = self.parts[0].object_classes

    def _where(self, i):
        return self.parts[i % 2], i // 2

    def __len__(self):
        return 6

    def __getitem__(self, i):
        ds, j = self._where(i)
        return ds[j]

    def load_image(self, i):
        ds, j = self._where(i)
        return ds.load_image(j)


@pytest.mark.parametrize("min_size", [0, 128])
def test_extractors_reproduce_the_detector_box_head_batched(shapes, tmp_path, min_size):
    ds = _TwoSizes(shapes)
    det = TorchvisionDetector(tiny_model(min_size=min_size))
    data = DetectorFeatureDataset(ds, det, "predcls", feature_maps=True, root=tmp_path,
                                  progress=False, dtype=torch.float32)
    batch = collate_scene_graphs([data[i] for i in range(len(ds))])
    assert [tuple(m.shape[:2]) for m in batch.feature_maps] == [(6, 16)] * 2
    box, _ = det.relation_feature_extractors()
    x, ref, alone = [], [], []
    for i in range(len(ds)):  # one image at a time: exactly the detector's features
        one = collate_scene_graphs([data[i]])
        b = SceneGraphModel.map_boxes(one, one.boxes, one.batch)
        alone.append(box.pooler(one.feature_maps, b, one.batch))
        x.append(box(one.feature_maps, b, one.batch))
        ref.append(det.extract([ds.load_image(i)], [ds[i].boxes])[0].roi_features)
    assert all(torch.equal(a, r) for a, r in zip(x, ref)) and sum(len(r) for r in ref) > 0
    # batched (maps padded by repetition): a bilinear sample past the last row blends it
    # with its copy, (1 - l) v + l v, equal to v up to rounding; the FC layers see another
    # row count, so BLAS may sum in another order
    boxes = SceneGraphModel.map_boxes(batch, batch.boxes, batch.batch)
    assert torch.allclose(box.pooler(batch.feature_maps, boxes, batch.batch), torch.cat(alone),
                          atol=1e-6, rtol=0)
    assert torch.allclose(box(batch.feature_maps, boxes, batch.batch), torch.cat(ref),
                          atol=1e-6, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32])
def test_map_cache_reads_what_the_backbone_computes(shapes, tmp_path, dtype):
    ds = shapes(3, 4, seed=3)
    det = TorchvisionDetector(tiny_model())
    cache = FeatureMapCache(det, ds, root=tmp_path, dtype=dtype, progress=False).build()
    for i in range(3):
        maps, size = cache[i]
        fresh, fresh_size = det.feature_maps(ds.load_image(i))
        assert size == fresh_size
        assert all(torch.equal(a, b.to(dtype)) for a, b in zip(maps, fresh))
    live = DetectorFeatureDataset(ds, det, "sgcls", feature_maps=True, cache=False,
                                  map_cache=False)[1]
    cached = DetectorFeatureDataset(ds, det, "sgcls", feature_maps=True, root=tmp_path,
                                    dtype=dtype, progress=False)[1]
    assert "x" not in cached and "edge_attr" not in cached
    assert torch.equal(cached.det_logits, live.det_logits)
    assert torch.equal(cached.map_image_size, live.map_image_size)
    assert all(torch.equal(a, b.to(dtype).float())
               for a, b in zip(cached.feature_maps, live.feature_maps))


def test_trainable_predcls_builds_no_vector_cache(shapes, tmp_path):
    """PredCls reads GT boxes / labels and the maps only: no vector cache, no det_logits."""
    ds = shapes(2, 4, seed=6)
    det = TorchvisionDetector(tiny_model())
    data = DetectorFeatureDataset(ds, det, "predcls", feature_maps=True, root=tmp_path,
                                  progress=False)
    assert data.cache is None and data.map_cache is not None
    assert not list(tmp_path.rglob("gt-*"))  # no vector-cache entry on disk
    item, g = data[1], ds[1]
    assert "det_logits" not in item and "x" not in item
    assert torch.equal(item.boxes, g.boxes) and torch.equal(item.labels, g.labels)
    n = g.boxes.size(0)
    assert item.edge_index.size(1) == n * (n - 1)
    assert len(item.feature_maps) == len(det.map_names)
    sgcls = DetectorFeatureDataset(ds, det, "sgcls", feature_maps=True, root=tmp_path,
                                   progress=False)
    assert sgcls.cache is not None and "det_logits" in sgcls[1]


def test_map_cache_invalidated_by_weights(shapes, tmp_path):
    ds = shapes(2, 4, seed=4)
    model = tiny_model()
    old = FeatureMapCache(TorchvisionDetector(model), ds, root=tmp_path, progress=False).build()
    with torch.no_grad():
        model.backbone.output[0].weight.add_(0.01)
    new = FeatureMapCache(TorchvisionDetector(model), ds, root=tmp_path, progress=False)
    assert new.path != old.path and not new.exists
    new.build()
    assert not old.path.exists()
    fresh, _ = TorchvisionDetector(model).feature_maps(ds.load_image(0))
    assert torch.equal(new[0][0][0], fresh[0].half())


def test_killed_map_cache_build_is_rebuilt_not_read(shapes, tmp_path, monkeypatch):
    ds = shapes(3, 4, seed=5)
    det = TorchvisionDetector(tiny_model())
    real = det.feature_maps
    calls = []

    def dies_on_the_second_image(image):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process is stopped mid-build
        return real(image)

    monkeypatch.setattr(det, "feature_maps", dies_on_the_second_image)
    cache = FeatureMapCache(det, ds, root=tmp_path, progress=False)
    with pytest.raises(KeyboardInterrupt):
        cache.build()
    assert not cache.exists and not list(cache.split_dir.glob(".tmp-*"))
    # a build killed hard (no cleanup) leaves its folder; a later build removes it
    dead = cache.split_dir / f".tmp-{cache.path.name}-999999999"
    dead.mkdir()
    (dead / "level0.bin").write_bytes(b"half")
    monkeypatch.setattr(det, "feature_maps", real)
    rebuilt = FeatureMapCache(det, ds, root=tmp_path, progress=False)
    assert not rebuilt.exists
    rebuilt.build()
    assert rebuilt.exists and not dead.exists()
    assert torch.equal(rebuilt[2][0][1], real(ds.load_image(2))[0][1].half())


def test_remove_dead_builds_keeps_a_live_one(tmp_path):
    live = tmp_path / f".tmp-maps-x-{os.getpid()}"
    live.mkdir()
    remove_dead_builds(tmp_path, "maps-")
    assert live.exists()


def test_sgdet_items_with_maps_and_no_detections(shapes, tmp_path):
    ds = shapes(2, 4, seed=6)
    det = TorchvisionDetector(tiny_model(box_score_thresh=1.1))  # detects nothing
    item = DetectorFeatureDataset(ds, det, "sgdet", feature_maps=True, root=tmp_path,
                                  progress=False)[0]
    assert item.boxes.shape == (0, 4) and item.edge_index.shape == (2, 0)
    assert len(item.feature_maps) == 2 and item.num_gt.item() == ds[0].boxes.size(0)
