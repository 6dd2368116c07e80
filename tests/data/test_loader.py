import numpy as np

from pyg_sgg.data.coco import COCOMaskDataset
from pyg_sgg.data.coco_writer import write_coco_instances
from pyg_sgg.data.loader import collate_scene_graphs
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
