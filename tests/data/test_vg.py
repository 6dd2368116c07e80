import json

import h5py
import numpy as np
import pytest
import torch

from pyg_sgg.data.vg import DatasetFormatError, VGDataset
from pyg_sgg.data.vg_writer import DICTS_FILE, H5_FILE, IMAGE_DATA_FILE

NOFILTER = dict(num_val_images=0, filter_empty_rels=False, filter_duplicate_rels=False,
                filter_non_overlap=False)


@pytest.mark.parametrize("split", ["train", "test"])
def test_round_trip(vg_root, vg_records, split):
    images, OBJ, PRED = vg_records
    ds = VGDataset(vg_root, split, **NOFILTER)
    ref = {im["image_id"]: im for im in images}
    expected = [i for i, im in ref.items() if im["split"] == (2 if split == "test" else 0)
                and len(im["labels"])]  # images without boxes are always dropped
    assert ds.image_ids.tolist() == expected
    assert ds.object_classes == OBJ and ds.predicate_classes == PRED
    for i in range(len(ds)):
        g, im = ds[i], ref[int(ds.image_ids[i])]
        assert g.image_size.tolist() == [[im["height"], im["width"]]]
        assert int(g.image_id) == im["image_id"]
        assert g.image_path.endswith(f"images/{im['image_id']}.jpg")
        assert torch.allclose(g.boxes, torch.tensor(im["boxes"], dtype=torch.float32),
                              atol=1.0 + 1e-4)
        assert (g.boxes[:, 0::2] <= im["width"] - 1).all()
        assert (g.boxes[:, 1::2] <= im["height"] - 1).all()
        assert g.labels.tolist() == im["labels"].tolist()
        assert g.gt_triplets.tolist() == im["relations"].tolist()


def test_sgb_box_decoding_and_clipping(vg_root):
    with h5py.File(vg_root / H5_FILE, "r+") as f:
        b = f["boxes_1024"][()]
        b[0] = [100, 100, 51, 50]  # odd width: SGB truncates cx - w / 2 on the int array
        b[1] = [1000, 700, 100, 100]  # crosses the right border of the 200 x 150 image
        f["boxes_1024"][...] = b
    ds = VGDataset(vg_root, "train", **NOFILTER)
    arr = ds.split_arrays()
    assert arr["boxes_scaled"][0].tolist() == [74, 75, 125, 125]
    s = 200 / 1024
    assert np.allclose(ds[0].boxes[0].numpy(), np.array([74, 75, 125, 125]) * s, atol=1e-4)
    assert np.allclose(ds[0].boxes[1].numpy(), [950 * s, 650 * s, 199, 750 * s], atol=1e-4)


def test_val_split_and_filters(vg_root):
    kw = dict(num_val_images=1)
    val = VGDataset(vg_root, "val", **kw)
    train = VGDataset(vg_root, "train", **kw)
    # train candidates with boxes and relations: 1, 3, 4; val = first; 3 has no overlap
    assert val.image_ids.tolist() == [1]
    assert train.image_ids.tolist() == [4]
    assert train[0].gt_triplets.tolist() == [[0, 1, 1]]  # non-overlapping (0, 2) dropped
    assert len(val[0].gt_rel_label) == 3  # val keeps duplicates, no overlap filter
    t = VGDataset(vg_root, "train", **kw, filter_non_overlap=False)
    assert t.image_ids.tolist() == [3, 4]
    assert VGDataset(vg_root, "train", num_val_images=0).image_ids.tolist() == [1, 4]
    # SGB: the overlap filter also drops images that have no relation at all
    assert VGDataset(vg_root, "train", num_val_images=0,
                     filter_empty_rels=False).image_ids.tolist() == [1, 4]
    assert VGDataset(vg_root, "train", num_val_images=0, filter_empty_rels=False,
                     filter_non_overlap=False).image_ids.tolist() == [1, 2, 3, 4]
    assert VGDataset(vg_root, "train", num_val_images=0, num_images=2,
                     filter_non_overlap=False).image_ids.tolist() == [1, 3]
    # filter_empty_rels applies to test as in SGB; test never filters overlap/duplicates
    test = VGDataset(vg_root, "test")
    assert test.image_ids.tolist() == [6]
    assert test[0].gt_triplets.tolist() == [[1, 0, 1], [1, 0, 2], [0, 1, 3]]
    assert VGDataset(vg_root, "test", filter_empty_rels=False).image_ids.tolist() == [6, 7]


def test_train_fraction_is_a_seeded_subset_of_train_only(vg_root):
    kw = dict(num_val_images=0, filter_empty_rels=False, filter_non_overlap=False)
    full = VGDataset(vg_root, "train", **kw).image_ids.tolist()  # [1, 2, 3, 4]
    half = VGDataset(vg_root, "train", train_fraction=0.5, **kw).image_ids.tolist()
    assert len(half) == 2 and set(half) <= set(full) and half == sorted(half)
    assert VGDataset(vg_root, "train", train_fraction=0.5, **kw).image_ids.tolist() == half
    others = {tuple(VGDataset(vg_root, "train", train_fraction=0.5, subset_seed=s,
                              **kw).image_ids.tolist()) for s in range(8)}
    assert len(others) > 1  # the seed chooses the subset
    assert len(VGDataset(vg_root, "train", train_fraction=0.01, **kw)) == 1  # at least one
    assert VGDataset(vg_root, "test", train_fraction=0.5).image_ids.tolist() == [6]
    with pytest.raises(ValueError, match="train_fraction"):
        VGDataset(vg_root, "train", train_fraction=0.0)


def test_duplicate_predicates_sampled_in_train(vg_root):
    ds = VGDataset(vg_root, "train", num_val_images=0)
    ds.generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(40):
        trip = ds[0].gt_triplets.tolist()
        assert len(trip) == 2 and trip[1] == [1, 0, 3]
        assert trip[0][:2] == [0, 1]
        seen.add(trip[0][2])
    assert seen == {1, 2}


def test_split_arrays(vg_root):
    ds = VGDataset(vg_root, "train", **NOFILTER)
    arr = ds.split_arrays()
    assert arr["obj_ptr"].tolist() == [0, 3, 4, 6, 9]
    assert arr["rel_ptr"].tolist() == [0, 3, 3, 4, 6]
    assert arr["image_sizes"].tolist()[0] == [150, 200]
    for i in range(len(ds)):
        g = ds[i]
        o = slice(arr["obj_ptr"][i], arr["obj_ptr"][i + 1])
        r = slice(arr["rel_ptr"][i], arr["rel_ptr"][i + 1])
        assert np.array_equal(arr["boxes"][o], g.boxes.numpy())
        assert np.array_equal(arr["labels"][o], g.labels.numpy())
        assert np.array_equal(arr["relations"][r], g.gt_triplets.numpy())


def test_load_image_lazy(vg_root):
    ds = VGDataset(vg_root, "test")
    img = ds.load_image(0)
    assert img.shape == (3, 200, 160) and img.dtype == torch.float32
    assert 0.0 <= float(img.min()) and float(img.max()) <= 1.0


def test_corrupted_ids_skipped_like_sgb(vg_root):
    data = json.loads((vg_root / IMAGE_DATA_FILE).read_text())
    extra = dict(data[0], image_id=1592)
    (vg_root / IMAGE_DATA_FILE).write_text(json.dumps([extra] + data))
    assert VGDataset(vg_root, "test").image_ids.tolist() == [6]


# ---------------------------------------------------------------- malformed input
def _raises(match_file, field, **kw):
    with pytest.raises(DatasetFormatError) as e:
        VGDataset(**kw)
    msg = str(e.value)
    assert match_file in msg and field in msg and "\n" not in msg, msg
    return msg


@pytest.mark.parametrize("name,field", [(H5_FILE, "h5_file"), (DICTS_FILE, "dicts_file"),
                                        (IMAGE_DATA_FILE, "image_data_file")])
def test_missing_file(vg_root, name, field):
    (vg_root / name).unlink()
    _raises(name, field, root=vg_root, split="train")


@pytest.mark.parametrize("key", ["predicates", "img_to_first_rel", "boxes_1024", "labels"])
def test_missing_h5_key(vg_root, key):
    with h5py.File(vg_root / H5_FILE, "r+") as f:
        del f[key]
    _raises(H5_FILE, key, root=vg_root, split="train")


@pytest.mark.parametrize("key,shape", [("boxes_1024", (9, 3)), ("relationships", (7, 3)),
                                       ("img_to_last_box", (3,)), ("labels", (5, 1))])
def test_wrong_shape(vg_root, key, shape):
    with h5py.File(vg_root / H5_FILE, "r+") as f:
        del f[key]
        f.create_dataset(key, data=np.ones(shape, dtype=np.int32))
    _raises(H5_FILE, key, root=vg_root, split="train")


def _edit(vg_root, key, fn):
    with h5py.File(vg_root / H5_FILE, "r+") as f:
        a = f[key][()]
        fn(a)
        f[key][...] = a


def test_relation_index_out_of_image(vg_root):
    _edit(vg_root, "relationships", lambda a: a.__setitem__((0, 1), 5))  # box of image 3
    msg = _raises(H5_FILE, "relationships", root=vg_root, split="test")
    assert "0..2" in msg


def test_box_range_out_of_bounds(vg_root):
    _edit(vg_root, "img_to_last_box", lambda a: a.__setitem__(-1, 99))
    _raises(H5_FILE, "img_to_last_box", root=vg_root, split="train")


def test_label_out_of_range(vg_root):
    _edit(vg_root, "labels", lambda a: a.__setitem__((0, 0), 99))
    msg = _raises(H5_FILE, "labels", root=vg_root, split="train")
    assert DICTS_FILE in msg


def test_predicate_out_of_range(vg_root):
    _edit(vg_root, "predicates", lambda a: a.__setitem__((0, 0), 4))
    _raises(H5_FILE, "predicates", root=vg_root, split="train")


def test_class_count_disagrees_with_dicts(vg_root):
    info = json.loads((vg_root / DICTS_FILE).read_text())
    bad = dict(info, idx_to_label={"1": "man"})
    (vg_root / DICTS_FILE).write_text(json.dumps(bad))
    _raises(DICTS_FILE, "idx_to_label", root=vg_root, split="train")
    # a vocabulary with fewer classes than the h5 uses
    fewer = dict(info, label_to_idx={"man": 1, "horse": 2, "hat": 3},
                 idx_to_label={"1": "man", "2": "horse", "3": "hat"})
    (vg_root / DICTS_FILE).write_text(json.dumps(fewer))
    msg = _raises(H5_FILE, "labels", root=vg_root, split="train")
    assert "1..3" in msg


def test_image_data_length_mismatch(vg_root):
    data = json.loads((vg_root / IMAGE_DATA_FILE).read_text())
    (vg_root / IMAGE_DATA_FILE).write_text(json.dumps(data[:-1]))
    _raises(IMAGE_DATA_FILE, "<length>", root=vg_root, split="train")
    (vg_root / IMAGE_DATA_FILE).write_text(json.dumps([{"image_id": 1}] + data[1:]))
    _raises(IMAGE_DATA_FILE, "width", root=vg_root, split="train")


def test_missing_image_file(vg_root):
    (vg_root / "images" / "6.jpg").unlink()
    ds = VGDataset(vg_root, "test")  # lazily checked: the graph still loads
    assert ds[0].num_nodes == 2
    with pytest.raises(DatasetFormatError) as e:
        ds.load_image(0)
    assert "6.jpg" in str(e.value) and "image_dir" in str(e.value)
    _raises("6.jpg", "image_dir", root=vg_root, split="test", check_images=True)


def test_train_removes_boxes_emptied_by_clipping(vg_root):
    _edit(vg_root, "boxes_1024", lambda a: a.__setitem__(0, [1022, 100, 2, 10]))
    train = VGDataset(vg_root, "train", **NOFILTER)  # image 1: box 0 becomes x1 = x2 = 199
    g = train[0]
    assert g.num_nodes == 2 and g.labels.tolist() == [2, 3]
    assert g.gt_triplets.tolist() == []  # all relations of image 1 involve box 0
    assert train.split_arrays()["obj_ptr"][1] == 3  # raw arrays keep every box


@pytest.mark.parametrize("content", [b"", b"not a jpeg at all", "truncated"])
def test_a_corrupt_image_names_its_file(vg_root, content):
    ds = VGDataset(vg_root, "train", **NOFILTER)
    path = vg_root / "images" / "1.jpg"
    data = path.read_bytes()[:200] if content == "truncated" else content
    path.write_bytes(data)
    with pytest.raises(DatasetFormatError, match=r"1\.jpg: field 'image': unreadable or "
                                                 r"truncated image"):
        ds.load_image(ds.image_ids.tolist().index(1))


def test_train_py_reports_a_malformed_h5_in_one_line(vg_root, tmp_path, capsys, monkeypatch):
    import runpy
    import sys
    from pathlib import Path
    with h5py.File(vg_root / H5_FILE, "r+") as f:
        del f["predicates"]
    monkeypatch.setenv("PYG_SGG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "argv", ["train.py", "--method", "ce", "DATASETS.VG.ROOT",
                                      str(vg_root), "DETECTOR.WEIGHTS", "",
                                      "OUTPUT_DIR", str(tmp_path / "out")])
    root = Path(__file__).resolve().parents[2]
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(root / "train.py"), run_name="__main__")
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2
    assert err[-1] == f"error: {vg_root / H5_FILE}: field 'predicates': missing h5 key", err


def test_one_line_of_a_worker_error():
    from pyg_sgg.engine.defaults import one_line
    worker = DatasetFormatError("Caught DatasetFormatError in DataLoader worker process 0.\n"
                                "Original Traceback (most recent call last):\n  File ...\n"
                                "pyg_sgg.data.errors.DatasetFormatError: a.jpg: field 'image': "
                                "unreadable")
    assert one_line(worker) == "a.jpg: field 'image': unreadable"
    assert one_line(DatasetFormatError("x.h5: field 'labels': bad")) == "x.h5: field 'labels': bad"


@pytest.mark.parametrize("cut", [0, 100, "half"])
def test_truncated_h5_names_the_file(vg_root, cut):
    path = vg_root / H5_FILE
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 if cut == "half" else cut])
    with pytest.raises(DatasetFormatError, match=r"VG-SGG-with-attri.h5: field '<hdf5>': not "
                                                 r"a readable HDF5 file"):
        VGDataset(vg_root, "train", **NOFILTER)


def test_validate_lists_every_planted_problem(vg_root, capsys):
    from PIL import Image

    from pyg_sgg.data.validate import main
    (vg_root / "images" / "1.jpg").unlink()                       # missing
    (vg_root / "images" / "4.jpg").write_bytes(b"garbage")        # corrupt
    Image.new("RGB", (10, 10)).save(vg_root / "images" / "6.jpg")  # wrong size
    assert main([str(vg_root)]) == 1
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 3, lines
    assert "1.jpg: image 1: field 'image_dir': missing image file" in lines[0]
    assert "4.jpg: field 'image': unreadable or truncated image" in lines[1]
    assert "6.jpg: image 6: field 'width/height': the file is 10 x 10" in lines[2]
    assert "3 problems" in out.err
    with h5py.File(vg_root / H5_FILE, "r+") as f:
        del f["labels"]
    assert main([str(vg_root)]) == 1
    assert capsys.readouterr().out.strip().endswith("field 'labels': missing h5 key")


def test_validate_a_good_folder(vg_root, capsys):
    from pyg_sgg.data.validate import main
    assert main([str(vg_root)]) == 0
    assert "0 problems" in capsys.readouterr().err
