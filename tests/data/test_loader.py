import numpy as np
import torch

from pyg_sgg.data.coco import COCOMaskDataset
from pyg_sgg.data.coco_writer import write_coco_instances
from pyg_sgg.data.loader import (InfiniteMixedLoader, build_loader, collate_scene_graphs,
                                 mixed_batches)
from pyg_sgg.data.vg import VGDataset


def _vg(root):
    return VGDataset(root, "train", num_val_images=0, filter_empty_rels=False,
                     filter_non_overlap=False)


def _coco(tmp_path):
    recs = []
    for i, (h, w) in enumerate([(20, 30), (25, 16), (12, 12)]):
        n = i + 1
        masks = np.zeros((n, h, w), np.uint8)
        masks[:, 2:8, 3:9] = 1
        recs.append({"id": i + 1, "file_name": f"{i + 1}.jpg", "width": w, "height": h,
                     "boxes": np.tile([3.0, 2, 9, 8], (n, 1)), "labels": [1] * n,
                     "masks": masks})
    path = write_coco_instances(tmp_path / "coco.json", recs, ["__background__", "person"])
    return COCOMaskDataset(path, tmp_path)


def test_collate_lists_and_shifts(vg_root, tmp_path):
    vg = _vg(vg_root)
    b = collate_scene_graphs([vg[0], vg[2]])
    assert b.num_graphs == 2 and b.image_path == [vg[0].image_path, vg[2].image_path]
    assert int(b.gt_rel_index.max()) >= vg[0].num_nodes  # second graph shifted
    coco = _coco(tmp_path)
    cb = collate_scene_graphs([coco[0], coco[1], coco[2]])
    assert isinstance(cb.masks, list) and [m.shape for m in cb.masks] == [
        (1, 20, 30), (2, 25, 16), (3, 12, 12)]
    assert cb.boxes.shape == (6, 4) and cb.image_size.tolist() == [[20, 30], [25, 16],
                                                                   [12, 12]]
    assert "masks" in coco[0]  # the dataset's graphs are not modified


def _run(loader):
    out = []
    for b in loader:
        out.append((b.image_id.tolist(), b.gt_rel_label.tolist()))
    return out


def test_build_loader_deterministic(vg_root):
    runs = []
    for _ in range(2):
        loader = build_loader(_vg(vg_root), batch_size=2, shuffle=True, seed=3)
        runs.append([_run(loader) for _ in range(3)])  # three epochs
    assert runs[0] == runs[1]
    orders = {tuple(sum((ids for ids, _ in ep), [])) for ep in runs[0]}
    assert all(sorted(o) == [1, 2, 3, 4] for o in orders)
    other = build_loader(_vg(vg_root), batch_size=2, shuffle=True, seed=4)
    assert [_run(other) for _ in range(3)] != runs[0]
    last = build_loader(_vg(vg_root), batch_size=3, drop_last=True, seed=0)
    assert len(last) == 1 and len(list(last)) == 1


def test_build_loader_workers_deterministic(vg_root):
    a = _run(build_loader(_vg(vg_root), 1, shuffle=True, seed=1, num_workers=2))
    b = _run(build_loader(_vg(vg_root), 1, shuffle=True, seed=1, num_workers=2))
    assert a == b and sorted(sum((ids for ids, _ in a), [])) == [1, 2, 3, 4]


def test_mixed_batches_cycle_coco(vg_root, tmp_path):
    vg_loader = build_loader(_vg(vg_root), batch_size=1, seed=0)  # 4 batches
    coco_loader = build_loader(_coco(tmp_path), batch_size=2, seed=0)  # 2 batches
    pairs = list(mixed_batches(vg_loader, coco_loader))
    assert len(pairs) == 4
    assert [p[1].image_id.tolist() for p in pairs] == [[1, 2], [3], [1, 2], [3]]
    assert [int(p[0].image_id) for p in pairs] == [1, 2, 3, 4]
    inf = InfiniteMixedLoader(vg_loader, coco_loader)
    assert len(inf) == 4
    it = iter(inf)
    got = [next(it) for _ in range(9)]  # past one VG epoch
    assert [int(v.image_id) for v, _ in got] == [1, 2, 3, 4, 1, 2, 3, 4, 1]
    assert all(c.num_graphs >= 1 and isinstance(c.masks, list) for _, c in got)
    torch.testing.assert_close(got[4][0].boxes, got[0][0].boxes)
