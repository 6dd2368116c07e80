import json

import numpy as np
import pytest
import torch
from PIL import Image

from pyg_sgg.data.coco import COCOMaskDataset
from pyg_sgg.data.coco_writer import encode_mask, write_coco_instances
from pyg_sgg.data.vg import DatasetFormatError

H, W = 40, 60


def _l_shape():
    m = np.zeros((H, W), dtype=np.uint8)
    m[20:35, 40:45] = 1
    m[30:35, 40:58] = 1
    return m


def _uncompressed_rle(m):
    flat = np.asfortranarray(m).flatten(order="F")
    counts, cur, run = [], 0, 0
    for v in flat:
        if v != cur:
            counts.append(run)
            cur, run = v, 0
        run += 1
    counts.append(run)
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": [int(c) for c in counts]}


def _blob():
    m = np.zeros((H, W), dtype=np.uint8)
    m[2:9, 45:59] = 1
    m[5, 50] = 0
    return m


@pytest.fixture
def coco_file(tmp_path):
    cats = [{"id": 11, "name": "dog"}, {"id": 3, "name": "person"}, {"id": 7, "name": "car"}]
    images = [{"id": 5, "file_name": "5.jpg", "width": W, "height": H},
              {"id": 9, "file_name": "9.jpg", "width": 30, "height": 30}]
    anns = [
        {"id": 1, "image_id": 5, "category_id": 3, "bbox": [10, 5, 20, 20], "area": 400,
         "iscrowd": 0, "segmentation": [[10, 5, 30, 5, 30, 25, 10, 25]]},
        {"id": 2, "image_id": 5, "category_id": 11, "bbox": [40, 20, 18, 15], "area": 120,
         "iscrowd": 0, "segmentation": encode_mask(_l_shape())},
        {"id": 3, "image_id": 5, "category_id": 7, "bbox": [45, 2, 14, 7], "area": 97,
         "iscrowd": 0, "segmentation": _uncompressed_rle(_blob())},
        {"id": 4, "image_id": 5, "category_id": 3, "bbox": [0, 30, 10, 10], "area": 100,
         "iscrowd": 1, "segmentation": _uncompressed_rle(np.ones((H, W), np.uint8))},
        {"id": 5, "image_id": 5, "category_id": 7, "bbox": [3, 3, 0, 5], "area": 0,
         "iscrowd": 0, "segmentation": [[3, 3, 3, 8, 3, 3]]},  # degenerate: dropped
    ]
    path = tmp_path / "ann" / "instances.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    img_dir = tmp_path / "img"
    img_dir.mkdir()
    for im in images:
        Image.new("RGB", (im["width"], im["height"]), (200, 10, 10)).save(
            img_dir / im["file_name"])
    return path, img_dir


def test_masks_labels_and_crowd(coco_file):
    ds = COCOMaskDataset(*coco_file)
    assert ds.class_names == ["__background__", "person", "car", "dog"]
    assert ds.cat_to_label == {3: 1, 7: 2, 11: 3}
    g = ds[0]
    assert g.labels.tolist() == [1, 3, 2]
    assert g.boxes.tolist() == [[10, 5, 30, 25], [40, 20, 58, 35], [45, 2, 59, 9]]
    assert g.masks.shape == (3, H, W) and g.masks.dtype == torch.uint8
    poly = g.masks[0].numpy()
    assert poly[15, 20] == 1 and poly[0, 0] == 0 and poly[:, 35:].sum() == 0
    assert abs(int(poly.sum()) - 400) <= 45
    assert np.array_equal(g.masks[1].numpy(), _l_shape())  # compressed RLE
    assert np.array_equal(g.masks[2].numpy(), _blob())  # uncompressed RLE
    assert g.crowd_boxes.tolist() == [[0, 30, 10, 40]]  # crowd kept aside, not an instance
    assert g.image_size.tolist() == [[H, W]] and int(g.image_id) == 5
    assert g.gt_rel_label.numel() == 0


def test_image_without_annotations_kept(coco_file):
    ds = COCOMaskDataset(*coco_file)
    assert len(ds) == 2
    g = ds[1]
    assert g.num_nodes == 0 and g.masks.shape == (0, 30, 30) and g.crowd_boxes.shape == (0, 4)
    img = ds.load_image(1)
    assert img.shape == (3, 30, 30) and abs(float(img[0, 0, 0]) - 200 / 255) < 0.02


def test_writer_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    masks = (rng.random((3, 24, 32)) > 0.6).astype(np.uint8)
    boxes = np.array([[0, 0, 10, 12], [5.5, 3, 31, 23.5], [1, 1, 2, 2]])
    recs = [{"id": 1, "file_name": "a.jpg", "width": 32, "height": 24, "boxes": boxes,
             "labels": [2, 1, 2], "masks": masks},
            {"id": 2, "file_name": "b.jpg", "width": 32, "height": 24,
             "boxes": [[4, 4, 20, 20]], "labels": [1],
             "polygons": [[[4, 4, 20, 4, 20, 20, 4, 20]]]},
            {"id": 3, "file_name": "c.jpg", "width": 16, "height": 16,
             "boxes": np.zeros((0, 4)), "labels": []}]
    path = write_coco_instances(tmp_path / "x.json", recs, ["__background__", "cat", "dog"])
    data = json.loads(path.read_text())
    assert [c["id"] for c in data["categories"]] == [1, 2]
    a = data["annotations"][1]
    assert a["bbox"] == [5.5, 3, 25.5, 20.5] and a["iscrowd"] == 0
    assert isinstance(a["segmentation"]["counts"], str)
    assert a["area"] == float(masks[1].sum())
    ds = COCOMaskDataset(path, tmp_path)
    g = ds[0]
    assert np.array_equal(g.masks.numpy(), masks)
    assert torch.allclose(g.boxes, torch.tensor(boxes, dtype=torch.float32))
    assert g.labels.tolist() == [2, 1, 2]
    assert ds[1].masks[0, 12, 12] == 1 and ds[1].masks[0, 2, 2] == 0
    assert len(ds) == 3 and ds[2].num_nodes == 0
    poly = data["annotations"][3]
    assert isinstance(poly["segmentation"], list) and 200 < poly["area"] <= 289


# ---------------------------------------------------------------- malformed input
def _rewrite(path, fn):
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def _check(exc, file, field):
    msg = str(exc.value)
    assert file in msg and field in msg and "\n" not in msg, msg


def test_missing_annotation_file(tmp_path):
    with pytest.raises(DatasetFormatError) as e:
        COCOMaskDataset(tmp_path / "nope.json", tmp_path)
    _check(e, "nope.json", "annotation_file")


@pytest.mark.parametrize("edit,field", [
    (lambda d: d.pop("annotations"), "annotations"),
    (lambda d: d.pop("categories"), "categories"),
    (lambda d: d["annotations"][0].__setitem__("category_id", 99), "category_id"),
    (lambda d: d["annotations"][0].__setitem__("image_id", 99), "image_id"),
    (lambda d: d["annotations"][0].__setitem__("bbox", [1, 2, 3]), "bbox"),
    (lambda d: d["annotations"][0].pop("segmentation"), "segmentation"),
    (lambda d: d["images"][0].pop("height"), "height"),
])
def test_malformed_json(coco_file, edit, field):
    path, img_dir = coco_file
    _rewrite(path, edit)
    with pytest.raises(DatasetFormatError) as e:
        COCOMaskDataset(path, img_dir)
    _check(e, "instances.json", field)


def test_segmentation_size_mismatch(coco_file):
    path, img_dir = coco_file
    _rewrite(path, lambda d: d["annotations"][1]["segmentation"].__setitem__("size", [5, 5]))
    ds = COCOMaskDataset(path, img_dir)
    with pytest.raises(DatasetFormatError) as e:
        ds[0]
    _check(e, "instances.json", "segmentation.size")


def test_missing_image_file(coco_file):
    path, img_dir = coco_file
    (img_dir / "9.jpg").unlink()
    ds = COCOMaskDataset(path, img_dir)
    ds[1]  # annotations load without the image
    with pytest.raises(DatasetFormatError) as e:
        ds.load_image(1)
    _check(e, "9.jpg", "image_dir")
