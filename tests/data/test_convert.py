"""python -m pyg_sgg.data.convert: a hand-written 3-image JSON becomes a dataset that
VGDataset reads with the expected counts; the vocabulary is selected as VG150's was."""
import json

import numpy as np
import pytest
from PIL import Image

from pyg_sgg.data.convert import main, select_vocabulary
from pyg_sgg.data.vg import VGDataset

NOFILTER = dict(filter_empty_rels=False, filter_duplicate_rels=False, filter_non_overlap=False,
                num_val_images=0)


def write(tmp_path, images):
    (tmp_path / "photos").mkdir(exist_ok=True)
    for k, im in enumerate(images):
        Image.fromarray(np.full((60, 80, 3), 30 * k, np.uint8)).save(
            tmp_path / "photos" / im["file_name"])
    (tmp_path / "ann.json").write_text(json.dumps({"images": images}))


def obj(box, name):
    return {"box": box, "name": name}


IMAGES = [
    {"file_name": "a.jpg", "split": "train",
     "objects": [obj([1, 2, 30, 40], "man"), obj([20, 10, 70, 50], "horse"),
                 obj([5, 5, 15, 15], "hat")],
     "relations": [{"subject": 0, "object": 1, "predicate": "on"},
                   {"subject": 0, "object": 2, "predicate": "wearing"}]},
    {"file_name": "b.png", "split": "train",
     "objects": [obj([0, 0, 79, 59], "man"), obj([10, 10, 40, 40], "man"),
                 obj([3, 3, 9, 9], "kite")],
     "relations": [{"subject": 1, "object": 0, "predicate": "near"},
                   {"subject": 0, "object": 2, "predicate": "on"}]},
    {"file_name": "c.jpg", "split": "test",
     "objects": [obj([2, 2, 50, 50], "horse"), obj([30, 30, 60, 55], "man")],
     "relations": [{"subject": 1, "object": 0, "predicate": "on"}]},
]


def test_three_images_round_trip(tmp_path, capsys):
    write(tmp_path, IMAGES)
    assert main([str(tmp_path / "ann.json"), "--images", str(tmp_path / "photos"), "--out",
                 str(tmp_path / "vg"), "--num-classes", "2", "--num-predicates", "2"]) == 0
    report = capsys.readouterr().out
    # vocabulary: man (4) and horse (2) of 5 names; on (3) and near (1) - wearing ties with
    # near at 1 and loses by name
    assert "2 classes" in report and "2 predicates" in report
    assert "2 dropped objects" in report and "2 dropped relations" in report
    train = VGDataset(tmp_path / "vg", "train", **NOFILTER)
    test = VGDataset(tmp_path / "vg", "test", **NOFILTER)
    assert train.object_classes == ["__background__", "man", "horse"]
    assert train.predicate_classes == ["__background__", "on", "near"]
    assert len(train) == 2 and len(test) == 1
    g = train[0]
    assert g.labels.tolist() == [1, 2] and g.gt_triplets.tolist() == [[0, 1, 1]]
    assert g.boxes.flatten().tolist() == pytest.approx([1, 2, 30, 40, 20, 10, 70, 50], abs=1.0)
    assert sorted(train[1].gt_triplets.tolist()) == [[1, 0, 2]]
    assert test[0].gt_triplets.tolist() == [[1, 0, 1]]
    assert tuple(train.load_image(0).shape) == (3, 60, 80)


def test_given_vocabulary_and_bad_input(tmp_path, capsys):
    write(tmp_path, IMAGES)
    (tmp_path / "classes.txt").write_text("hat\nman\n")
    assert main([str(tmp_path / "ann.json"), "--images", str(tmp_path / "photos"), "--out",
                 str(tmp_path / "vg"), "--classes", str(tmp_path / "classes.txt")]) == 0
    ds = VGDataset(tmp_path / "vg", "train", **NOFILTER)
    assert ds.object_classes == ["__background__", "hat", "man"]
    bad = json.loads((tmp_path / "ann.json").read_text())
    bad["images"][1]["relations"][0]["object"] = 7
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert main([str(tmp_path / "bad.json"), "--images", str(tmp_path / "photos"), "--out",
                 str(tmp_path / "vg2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {tmp_path / 'bad.json'}: image 1: field 'relations[0].object': "
                   f"expected an object index 0..2, got 7")
    assert not (tmp_path / "vg2").exists()  # nothing written


def test_select_vocabulary():
    from collections import Counter
    c = Counter({"b": 2, "a": 2, "c": 5})
    assert select_vocabulary(c, 2) == ["__background__", "c", "a"]
    assert select_vocabulary(c, given=["x", "c"]) == ["__background__", "x", "c"]


def test_raw_visual_genome_sample(tmp_path, capsys):
    """A hand-written 3-image sample in VG's raw layout (objects / relationships /
    image_data json): the converted files load with the expected counts."""
    def o(oid, x, y, w, h, name):
        return {"object_id": oid, "x": x, "y": y, "w": w, "h": h, "names": [name]}
    objects = [
        {"image_id": 10, "objects": [o(1, 0, 0, 30, 40, "Man"), o(2, 20, 10, 50, 40, "horse"),
                                     o(3, 5, 5, 0, 9, "hat")]},          # a zero-width box
        {"image_id": 11, "objects": [o(4, 1, 1, 60, 50, "man"), o(5, 3, 3, 9, 9, "kite  ")]},
        {"image_id": 12, "objects": []},                                  # skipped
    ]
    relationships = [
        {"image_id": 10, "relationships": [
            {"predicate": "ON", "subject": {"object_id": 1}, "object": {"object_id": 2}},
            {"predicate": "wears", "subject": {"object_id": 1}, "object": {"object_id": 3}}]},
        {"image_id": 11, "relationships": [
            {"predicate": "flying", "subject": {"object_id": 5}, "object": {"object_id": 4}}]},
    ]
    image_data = [{"image_id": i, "width": 80, "height": 60} for i in (10, 11, 12)]
    (tmp_path / "vg").mkdir()
    for name, data in (("objects", objects), ("relationships", relationships),
                       ("image_data", image_data)):
        (tmp_path / "vg" / f"{name}.json").write_text(json.dumps(data))
    (tmp_path / "VG_100K").mkdir()
    for i in (10, 11, 12):
        Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(tmp_path / "VG_100K" / f"{i}.jpg")
    assert main([str(tmp_path / "vg"), "--raw-vg", "--images", str(tmp_path / "VG_100K"),
                 "--out", str(tmp_path / "out"), "--test-fraction", "0"]) == 0
    assert "2 images" in capsys.readouterr().out
    ds = VGDataset(tmp_path / "out", "train", **NOFILTER)
    assert ds.object_classes == ["__background__", "man", "horse", "kite"]
    assert ds.predicate_classes == ["__background__", "flying", "on"]
    assert len(ds) == 2
    assert [g.labels.tolist() for g in (ds[0], ds[1])] == [[1, 2], [1, 3]]
    assert [g.gt_triplets.tolist() for g in (ds[0], ds[1])] == [[[0, 1, 2]], [[1, 0, 1]]]
