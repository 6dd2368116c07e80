"""Every malformed-dataset case, one table: what the loader does with it (raises one line
naming the file and the field, or clips / warns as SGB would) and that ``python -m
pyg_sgg.data.validate`` lists it. A last test plants many problems at once and checks that
one run of the validator lists them all."""
import json
import logging
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from pyg_sgg.data.coco import COCOMaskDataset
from pyg_sgg.data.coco_writer import write_coco_instances
from pyg_sgg.data.validate import main as validate_main
from pyg_sgg.data.vg import DatasetFormatError, VGDataset
from pyg_sgg.data.vg_writer import DICTS_FILE, H5_FILE, IMAGE_DATA_FILE, write_vg150

VG150_DICTS = Path(__file__).resolve().parents[1] / "golden" / "VG-SGG-dicts-with-attri.json"
COCO_FILE = "instances.json"


# ----------------------------------------------------------------------------- planting
def h5_edit(key, fn):
    def edit(root):
        with h5py.File(root / H5_FILE, "r+") as f:
            a = f[key][()]
            out = fn(a)
            del f[key]
            f.create_dataset(key, data=a if out is None else out)
    return edit


def h5_delete(key):
    def edit(root):
        with h5py.File(root / H5_FILE, "r+") as f:
            del f[key]
    return edit


def truncate(name, keep):
    def edit(root):
        p = root / name
        p.write_bytes(p.read_bytes()[:keep])
    return edit


def json_edit(name, fn):
    def edit(root):
        p = root / name
        data = json.loads(p.read_text())
        fn(data)
        p.write_text(json.dumps(data))
    return edit


def image_edit(image_id, what):
    def edit(root):
        p = root / "images" / f"{image_id}.jpg"
        if what == "missing":
            p.unlink()
        elif what == "corrupt":
            p.write_bytes(p.read_bytes()[:150])
        else:
            Image.new("RGB", (13, 7)).save(p)
    return edit


def coco_image_edit(what):
    def edit(root):
        p = root / "coco" / "2.jpg"
        if what == "missing":
            p.unlink()
        else:
            p.write_bytes(b"\xff\xd8 not a jpeg")
    return edit


def set_item(path, value):
    def fn(d):
        *head, last = path
        for k in head:
            d = d[k]
        d[last] = value
    return fn


def vg150_dicts(reverse):
    """The genuine VG150 dicts file (150 / 50 classes) over an h5 whose labels follow its
    counts (``reverse=False``) or the opposite order."""
    info = json.loads(VG150_DICTS.read_text())
    objects = sorted(info["label_to_idx"], key=info["label_to_idx"].get)
    predicates = sorted(info["predicate_to_idx"], key=info["predicate_to_idx"].get)

    def draw(names, counts, n, rng):
        p = np.asarray([counts[k] for k in names], float)
        if reverse:
            p = p.max() + p.min() - p
        return rng.choice(len(names), n, p=p / p.sum()) + 1

    def edit(root):
        rng = np.random.default_rng(0)
        images = []
        for k in range(60):  # 60 images of 10 boxes and 10 relations
            boxes = np.tile([[10, 10, 90, 90]], (10, 1)) + np.arange(10)[:, None]
            rels = np.stack([np.arange(10), (np.arange(10) + 1) % 10, np.zeros(10, int)], 1)
            images.append(dict(image_id=k + 1, width=100, height=100, file_name=f"{k + 1}.jpg",
                               boxes=boxes.astype(float), labels=np.ones(10, int),
                               relations=rels, split=0 if k < 40 else 2))
        labels = draw(objects, info["object_count"], 600, rng)
        preds = draw(predicates, info["predicate_count"], 600, rng)
        for k, im in enumerate(images):
            im["labels"] = labels[10 * k:10 * k + 10]
            im["relations"][:, 2] = preds[10 * k:10 * k + 10]
        write_vg150(root, images, ["__background__"] + objects, ["__background__"] + predicates)
        (root / DICTS_FILE).write_text(VG150_DICTS.read_text())
        write_images(root / "images", images)
    return edit


# --------------------------------------------------------------------------- the table
# (case, planting, loader's behaviour: "raises" / "clips" / "warns", file, field)
CASES = [
    ("truncated h5", truncate(H5_FILE, 300), "raises", H5_FILE, "<hdf5>"),
    ("missing h5 key", h5_delete("img_to_last_rel"), "raises", H5_FILE, "img_to_last_rel"),
    ("float labels", h5_edit("labels", lambda a: a.astype(np.float32) + 0.5), "raises", H5_FILE,
     "labels"),
    ("string predicates", h5_edit("predicates", lambda a: a.astype("S3")), "raises", H5_FILE,
     "predicates"),
    ("labels of another shape", h5_edit("labels", lambda a: a[:-1]), "raises", H5_FILE,
     "labels"),
    ("a box range past the boxes", h5_edit("img_to_last_box",
                                           lambda a: a.__setitem__(-1, 99)), "raises", H5_FILE,
     "img_to_last_box"),
    ("a relation to another image's box", h5_edit("relationships",
                                                  lambda a: a.__setitem__((0, 1), 5)),
     "raises", H5_FILE, "relationships"),
    ("a label past the dicts' classes", h5_edit("labels", lambda a: a.__setitem__((0, 0), 9)),
     "raises", H5_FILE, "labels"),
    ("a predicate past the dicts' predicates",
     h5_edit("predicates", lambda a: a.__setitem__((0, 0), 7)), "raises", H5_FILE,
     "predicates"),
    ("non-positive box size", h5_edit("boxes_1024", lambda a: a.__setitem__((0, 2), 0)),
     "raises", H5_FILE, "boxes_1024"),
    ("a box wholly outside its image",
     h5_edit("boxes_1024", lambda a: a.__setitem__(0, [1200, 500, 40, 40])), "clips", H5_FILE,
     "boxes_1024"),
    ("dicts with fewer classes than the h5 uses",
     json_edit(DICTS_FILE, lambda d: d.update(label_to_idx={"man": 1, "horse": 2},
                                              idx_to_label={"1": "man", "2": "horse"})),
     "raises", H5_FILE, "labels"),
    ("dicts' two tables disagree", json_edit(DICTS_FILE, set_item(["idx_to_label"], {"1": "a"})),
     "raises", DICTS_FILE, "idx_to_label"),
    ("dicts' indices with a gap", json_edit(DICTS_FILE, set_item(["predicate_to_idx", "has"], 7)),
     "raises", DICTS_FILE, "predicate_to_idx"),
    ("dicts file not json", truncate(DICTS_FILE, 20), "raises", DICTS_FILE, "<json>"),
    ("the real VG150 dicts over another h5", vg150_dicts(reverse=True), "warns", DICTS_FILE,
     "predicate_count"),
    ("image_data shorter than the h5", json_edit(IMAGE_DATA_FILE, lambda d: d.pop()), "raises",
     IMAGE_DATA_FILE, "<length>"),
    ("image_data without a width", json_edit(IMAGE_DATA_FILE, lambda d: d[0].pop("width")),
     "raises", IMAGE_DATA_FILE, "width"),
    ("a missing image", image_edit(3, "missing"), "raises", "3.jpg", "image_dir"),
    ("a corrupt image", image_edit(3, "corrupt"), "raises", "3.jpg", "image"),
    ("an image of another size", image_edit(3, "resized"), "warns", "3.jpg", "width/height"),
    ("COCO: an unknown category", json_edit(f"coco/{COCO_FILE}", set_item(
        ["annotations", 0, "category_id"], 99)), "raises", COCO_FILE, "annotations.category_id"),
    ("COCO: a broken compressed RLE", json_edit(f"coco/{COCO_FILE}", set_item(
        ["annotations", 0, "segmentation", "counts"], "PPYo0")), "raises", COCO_FILE,
     "annotations.segmentation"),
    ("COCO: RLE runs that miss pixels", json_edit(f"coco/{COCO_FILE}", set_item(
        ["annotations", 1, "segmentation"], {"size": [40, 60], "counts": [100, 5]})), "raises",
     COCO_FILE, "annotations.segmentation"),
    ("COCO: a mask of another size", json_edit(f"coco/{COCO_FILE}", set_item(
        ["annotations", 1, "segmentation"], {"size": [5, 5], "counts": [25]})), "raises",
     COCO_FILE, "annotations.segmentation.size"),
    ("COCO: an annotation of an unknown image", json_edit(f"coco/{COCO_FILE}", set_item(
        ["annotations", 0, "image_id"], 77)), "raises", COCO_FILE, "annotations.image_id"),
    ("COCO: a missing image", coco_image_edit("missing"), "raises", "2.jpg", "image_dir"),
    ("COCO: a corrupt image", coco_image_edit("corrupt"), "raises", "2.jpg", "image"),
]


def write_images(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for im in images:
        Image.new("RGB", (im["width"], im["height"]), (90, 120, 30)).save(
            folder / im["file_name"])


@pytest.fixture
def dataset(tmp_path):
    """A small VG150 folder (images 1-4 train, 5-6 test; 4 classes, 3 predicates) with a
    COCO instances file of two 60 x 40 images under ``coco/``."""
    images = []
    for k in range(6):
        boxes = np.array([[5, 5, 60, 50], [30, 20, 90, 70], [50 + k, 10, 95, 45]], float)
        images.append(dict(image_id=k + 1, width=100, height=80, file_name=f"{k + 1}.jpg",
                           boxes=boxes, labels=np.array([1, 2, 3 + k % 2]),
                           relations=np.array([[0, 1, 1], [1, 2, 2], [2, 0, 3]]),
                           split=0 if k < 4 else 2))
    write_vg150(tmp_path, images, ["__background__", "man", "horse", "hat", "table"],
                ["__background__", "on", "near", "has"])
    write_images(tmp_path / "images", images)
    masks = np.zeros((2, 40, 60), np.uint8)
    masks[0, 5:20, 5:30] = 1
    masks[1, 10:35, 20:50] = 1
    recs = [{"id": k + 1, "file_name": f"{k + 1}.jpg", "width": 60, "height": 40,
             "boxes": [[5, 5, 30, 20], [20, 10, 50, 35]], "labels": [1, 2], "masks": masks}
            for k in range(2)]
    write_coco_instances(tmp_path / "coco" / COCO_FILE, recs, ["__background__", "cat", "dog"])
    write_images(tmp_path / "coco", [dict(file_name=f"{k + 1}.jpg", width=60, height=40)
                                     for k in range(2)])
    return tmp_path


def load_everything(root):
    """What training and evaluation read: both VG splits with every image, then every COCO
    annotation and image."""
    for split in ("train", "test"):
        ds = VGDataset(root, split, num_val_images=0)
        for i in range(len(ds)):
            ds[i]
            ds.load_image(i)
    coco = COCOMaskDataset(root / "coco" / COCO_FILE, root / "coco")
    for i in range(len(coco)):
        coco[i]
        coco.load_image(i)


def validate(root, capsys):
    code = validate_main([str(root), "--coco", str(root / "coco" / COCO_FILE)])
    return code, capsys.readouterr().out.strip().splitlines()


def test_the_planted_folder_is_clean(dataset, capsys):
    load_everything(dataset)
    assert validate(dataset, capsys) == (0, [])


@pytest.mark.parametrize("case,plant,loader,file,field", CASES, ids=[c[0] for c in CASES])
def test_malformed_dataset(dataset, capsys, caplog, recwarn, case, plant, loader, file, field):
    plant(dataset)
    if loader == "raises":
        with pytest.raises(DatasetFormatError) as e:
            load_everything(dataset)
        msg = str(e.value)
        assert "\n" not in msg and file in msg and f"field '{field}" in msg, msg
    else:
        with caplog.at_level(logging.WARNING, logger="pyg_sgg"):
            load_everything(dataset)  # SGB clips such boxes; a foreign dicts file is a warning
        if loader == "warns":  # a log line or a Python warning naming the file and field
            said = [r.getMessage() for r in caplog.records] + [str(w.message) for w in recwarn]
            assert any(file in m and field in m for m in said), said
    code, lines = validate(dataset, capsys)
    assert code == 1
    assert any(file in line and f"field '{field}" in line for line in lines), lines


def test_the_real_vg150_dicts_over_their_own_kind_of_data_pass(dataset, capsys, caplog):
    vg150_dicts(reverse=False)(dataset)
    with caplog.at_level(logging.WARNING, logger="pyg_sgg"):
        load_everything(dataset)
    assert "predicate_count" not in caplog.text and "object_count" not in caplog.text
    assert not any("_count" in line for line in validate(dataset, capsys)[1])


def test_one_validation_lists_every_image_level_problem(dataset, capsys):
    for plant in (image_edit(1, "missing"), image_edit(3, "corrupt"), image_edit(5, "resized"),
                  h5_edit("boxes_1024", lambda a: a.__setitem__(0, [1200, 500, 40, 40])),
                  json_edit(f"coco/{COCO_FILE}", set_item(["annotations", 0, "segmentation",
                                                           "counts"], "PPYo0")),
                  coco_image_edit("missing")):
        plant(dataset)
    code, lines = validate(dataset, capsys)
    assert code == 1 and len(lines) == 6, lines
    expected = [("1.jpg", "image_dir"), ("3.jpg", "field 'image'"), ("5.jpg", "width/height"),
                (H5_FILE, "boxes_1024"), (COCO_FILE, "segmentation"), ("2.jpg", "image_dir")]
    for file, field in expected:
        assert sum(file in line and field in line for line in lines) == 1, (file, lines)


def test_a_checkpoint_of_another_vocabulary_is_one_line(tmp_path):
    """A relation model trained with another dicts file (another predicate count) does not
    load: one line naming the checkpoint and the differing tensor."""
    from pyg_sgg.checkpoint_io import load_model_state, read_checkpoint
    from pyg_sgg.errors import CheckpointError
    from pyg_sgg.nn import RelationHead

    path = tmp_path / "model_final.pth"
    torch.save({"model": RelationHead(16, 51, 151, hidden_channels=8).state_dict()}, path)
    with pytest.raises(CheckpointError) as e:
        load_model_state(RelationHead(16, 23, 50, hidden_channels=8), read_checkpoint(path), path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and "another shape" in msg and "51" in msg, msg
