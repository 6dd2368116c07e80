import json
import time

import h5py
import numpy as np
import pytest
import torch

from pyg_sgg.data import synthvg as S
from pyg_sgg.data.synthvg.cli import main as synthvg_main
from pyg_sgg.data.synthvg.vocabulary import (COARSE_PARENT, COCO_CLASSES, COCO_NAME,
                                               OBJECT_CLASSES, PREDICATES)

# VG150's vocabulary (VG-SGG-dicts-with-attri.json), for checking names only.
VG150_OBJECTS = set("""airplane animal arm bag banana basket beach bear bed bench bike bird board
boat book boot bottle bowl box boy branch building bus cabinet cap car cat chair child clock
coat counter cow cup curtain desk dog door drawer ear elephant engine eye face fence finger flag
flower food fork fruit giraffe girl glass glove guy hair hand handle hat head helmet hill horse
house jacket jean kid kite lady lamp laptop leaf leg letter light logo man men motorcycle
mountain mouth neck nose number orange pant paper paw people person phone pillow pizza plane
plant plate player pole post pot racket railing rock roof room screen seat sheep shelf shirt
shoe short sidewalk sign sink skateboard ski skier sneaker snow sock stand street surfboard
table tail tie tile tire toilet towel tower track train tree truck trunk umbrella vase
vegetable vehicle wave wheel window windshield wing wire woman zebra""".split())
VG150_PREDICATES = {
    "above", "across", "against", "along", "and", "at", "attached to", "behind", "belonging to",
    "between", "carrying", "covered in", "covering", "eating", "flying in", "for", "from",
    "growing on", "hanging from", "has", "holding", "in", "in front of", "laying on",
    "looking at", "lying on", "made of", "mounted on", "near", "of", "on", "on back of", "over",
    "painted on", "parked on", "part of", "playing", "riding", "says", "sitting on",
    "standing on", "to", "under", "using", "walking in", "walking on", "watching", "wearing",
    "wears", "with"}
COCO80 = set(S.COCO_CLASSES) | {"train", "boat", "bicycle", "traffic light", "fire hydrant"}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "ds"
    rep, vg, coco = S.generate(out, num_images=40, seed=3, progress=False, workers=1,
                               num_coco_images=10, return_records=True)
    return out, rep, vg, coco


def test_vocabulary():
    assert len(OBJECT_CLASSES) >= 30 and set(OBJECT_CLASSES) <= VG150_OBJECTS
    assert len(PREDICATES) >= 20 and set(PREDICATES) <= VG150_PREDICATES
    for parent, children in [("on", ["standing on", "sitting on", "parked on", "lying on"]),
                             ("near", ["in front of", "behind"]),
                             ("has", ["holding", "wearing"])]:
        assert parent in PREDICATES
        for c in children:
            assert COARSE_PARENT[c] == parent
    assert len(COCO_CLASSES) >= 10
    assert {"person"} <= set(COCO_CLASSES) and "man" not in COCO_CLASSES
    assert COCO_NAME["man"] == COCO_NAME["woman"] == COCO_NAME["boy"] == "person"
    no_same = [c for c in OBJECT_CLASSES if c not in COCO_CLASSES]
    assert len(no_same) >= len(OBJECT_CLASSES) / 3


def test_layout_and_report(small):
    out, rep, vg, coco = small
    for f in ["VG-SGG-with-attri.h5", "VG-SGG-dicts-with-attri.json", "image_data.json",
              "coco/annotations/instances_train.json", "coco/annotations/instances_val.json",
              "report.json"]:
        assert (out / f).is_file(), f
    assert len(list((out / "images").glob("*.jpg"))) == 40
    assert len(list((out / "coco" / "images").glob("*.jpg"))) == 10
    assert json.loads((out / "report.json").read_text())["num_relations"] == rep["num_relations"]
    with h5py.File(out / "VG-SGG-with-attri.h5", "r") as f:
        assert set(np.unique(f["split"][:])) <= {0, 2}
    for r in vg:
        n, m = len(r["labels"]), len(r["relations"])
        assert 2 <= n <= 15 and 1 <= m <= 10
        assert 128 <= r["width"] <= 256 and 128 <= r["height"] <= 256
        b = r["boxes"]
        assert (b[:, 2] - b[:, 0] >= 4).all() and (b[:, 3] - b[:, 1] >= 4).all()
        assert (b[:, 0] >= 0).all() and (b[:, 2] <= r["width"]).all()
        assert (b[:, 3] <= r["height"]).all()
    assert "SynthCOCO" in S.format_report(rep)


def test_deterministic(tmp_path):
    a = S.generate(tmp_path / "a", num_images=16, seed=7, progress=False, workers=1,
                   num_coco_images=4, return_records=True)
    b = S.generate(tmp_path / "b", num_images=16, seed=7, progress=False, workers=2,
                   num_coco_images=4, return_records=True)
    c = S.generate(tmp_path / "c", num_images=16, seed=8, progress=False, workers=1,
                   num_coco_images=4, return_records=True)
    for ra, rb in zip(a[1] + a[2], b[1] + b[2]):
        for k in ra:
            assert np.array_equal(np.asarray(ra[k]), np.asarray(rb[k])), k
    for name in ["VG-SGG-with-attri.h5", "images/5.jpg", "coco/images/3.jpg",
                 "coco/annotations/instances_val.json"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert not all(np.array_equal(x["labels"], y["labels"]) for x, y in zip(a[1], c[1]))


def test_round_trip_vg_loader(small):
    from pyg_sgg.data.vg import VGDataset

    out, _, vg, _ = small
    kw = dict(filter_empty_rels=False, filter_duplicate_rels=False, filter_non_overlap=False)
    train = VGDataset(out, "train", num_val_images=0, **kw)
    test = VGDataset(out, "test", **kw)
    recs = {0: [r for r in vg if r["split"] == 0], 2: [r for r in vg if r["split"] == 2]}
    assert len(train) == len(recs[0]) and len(test) == len(recs[2]) and len(test) > 0
    for ds, rs in ((train, recs[0]), (test, recs[2])):
        for i, r in enumerate(rs):
            g = ds[i]
            assert int(g.image_id) == r["image_id"]
            assert torch.equal(g.labels, torch.as_tensor(r["labels"]))
            assert (g.boxes - torch.as_tensor(r["boxes"])).abs().max() <= 1.0
            rel = torch.cat([g.gt_rel_index.t(), g.gt_rel_label[:, None]], 1)
            assert torch.equal(rel, torch.as_tensor(r["relations"]))
            assert tuple(ds.load_image(i).shape) == (3, r["height"], r["width"])
    assert train.object_classes[1:] == list(OBJECT_CLASSES)
    assert train.predicate_classes[1:] == list(PREDICATES)


def test_coco_round_trip_loader(small):
    from pyg_sgg.data.coco import COCOMaskDataset

    out, _, _, coco = small
    n = 0
    for part, val in (("train", False), ("val", True)):
        ds = COCOMaskDataset(out / "coco" / "annotations" / f"instances_{part}.json",
                             out / "coco" / "images")
        assert ds.class_names == ["__background__"] + list(COCO_CLASSES)
        recs = [r for r in coco if r["val"] == val]
        assert len(ds) == len(recs)
        for i, r in enumerate(recs):
            g = ds[i]
            masks = np.unpackbits(r["packed_masks"], axis=-1, count=r["width"])
            assert int(g.image_id) == r["id"]
            assert torch.equal(g.masks, torch.from_numpy(masks))
            assert torch.equal(g.labels, torch.from_numpy(r["labels"]))
            assert torch.allclose(g.boxes, torch.from_numpy(r["boxes"]))
            assert tuple(ds.load_image(i).shape) == (3, r["height"], r["width"])
            n += len(r["labels"])
    assert n > 0


def test_long_tail_zero_shot(tmp_path):
    rep, vg, _ = S.generate(tmp_path, num_images=200, seed=0, progress=False, workers=1,
                            num_coco_images=2, return_records=True)
    frac = np.array(list(rep["predicate_fractions"].values()))
    assert frac.max() >= 0.25 and (frac < 0.02).sum() >= 5
    assert rep["zero_shot_fraction"] >= 0.05
    fs = rep["few_shot_bins_test_relations"]
    assert sum(v > 0 for k, v in fs.items() if k != "0-0") >= 3
    # held-out fine facts never appear in a train image
    hold = {tuple(t) for t in json.loads((tmp_path / "holdout_triplets.json").read_text())}
    assert hold
    for r in vg:
        if r["split"] == 0 and len(r["relations"]):
            for (s, o, _), fp in zip(r["relations"], r["fine_predicates"]):
                t = (OBJECT_CLASSES[r["labels"][s] - 1], PREDICATES[fp - 1],
                     OBJECT_CLASSES[r["labels"][o] - 1])
                assert t not in hold


def _overlap(a, b):
    return min(a[2], b[2]) - max(a[0], b[0]) > 0 and min(a[3], b[3]) - max(a[1], b[1]) > 0


def test_facts_match_geometry_and_reporting_bias(tmp_path):
    cfg = S.SynthConfig(coarse_prob=1.0)
    _, vg, _ = S.generate(tmp_path / "c", 60, 1, cfg, progress=False, workers=1,
                          num_coco_images=2, return_records=True)
    touching = {"on", "standing on", "sitting on", "parked on", "lying on", "walking on",
                "mounted on", "has", "wearing", "riding", "under", "in", "attached to",
                "hanging from", "carrying", "in front of", "behind", "eating"}
    seen = set()
    for r in vg:
        b = r["boxes"]
        for (s, o, p), fp in zip(r["relations"], r["fine_predicates"]):
            fine = PREDICATES[fp - 1]
            seen.add(fine)
            rep = PREDICATES[p - 1]
            assert rep == COARSE_PARENT.get(fine, fine)  # coarse_prob = 1: always the parent
            if fine in touching:
                assert _overlap(b[s], b[o]), (fine, b[s], b[o])
            elif fine == "above":
                assert b[s][3] <= b[o][1]
            elif fine == "near":
                assert not _overlap(b[s], b[o])
    assert len(seen) >= 15
    _, vg0, _ = S.generate(tmp_path / "f", 60, 1, S.SynthConfig(coarse_prob=0.0),
                           progress=False, workers=1, num_coco_images=2, return_records=True)
    for r in vg0:
        assert np.array_equal(r["relations"][:, 2], r["fine_predicates"])


def test_ensure_dataset_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("PYG_SGG_CACHE", str(tmp_path / "cache"))
    root = S.ensure_dataset(num_images=8, seed=5, progress=False)
    assert root == tmp_path / "cache" / "synthvg-s5-n8"
    stamp = (root / "VG-SGG-with-attri.h5").stat().st_mtime_ns
    t = time.time()
    assert S.ensure_dataset(num_images=8, seed=5) == root
    assert time.time() - t < 0.5
    assert (root / "VG-SGG-with-attri.h5").stat().st_mtime_ns == stamp
    other = S.ensure_dataset(tmp_path / "explicit", num_images=6, seed=5, progress=False)
    assert (other / "report.json").is_file()
    # an older generator version is regenerated
    rep = json.loads((other / "report.json").read_text())
    rep["generator_version"] = S.GENERATOR_VERSION - 1
    (other / "report.json").write_text(json.dumps(rep))
    S.ensure_dataset(other, num_images=6, seed=5, progress=False)
    rep = json.loads((other / "report.json").read_text())
    assert rep["generator_version"] == S.GENERATOR_VERSION
    # a foreign non-empty folder is never overwritten
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="report.json"):
        S.ensure_dataset(foreign, num_images=6, seed=5, progress=False)
    assert (foreign / "keep.txt").is_file()


def test_cli(tmp_path, capsys):
    synthvg_main(["--out", str(tmp_path / "cli"), "--num-images", "8", "--seed", "2"])
    printed = capsys.readouterr().out
    assert "predicates:" in printed and "zero-shot" in printed
    assert (tmp_path / "cli" / "images" / "8.jpg").is_file()


def test_coco_boxes_enclose_masks(small):
    _, _, _, coco = small
    for r in coco:
        masks = np.unpackbits(r["packed_masks"], axis=-1, count=r["width"]).astype(bool)
        for m, b in zip(masks, r["boxes"]):
            ys, xs = np.nonzero(m)
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == tuple(b.astype(int))


def test_holdout_keeps_every_class_and_predicate():
    from collections import Counter

    cfg = S.SynthConfig()
    counts = Counter()
    for k in range(400):  # the generator's pilot scenes
        sc = S.sample_scene(np.random.default_rng([0, 2, k]))
        counts.update((sc["objects"][a]["cls"], p, sc["objects"][b]["cls"])
                      for a, b, p in sc["facts"])
    hold = set(S.choose_holdout(0, cfg))
    total = sum(counts.values())
    assert sum(counts[t] for t in hold) / total >= cfg.zero_shot_mass
    for p in {t[1] for t in counts}:
        assert any(t[1] == p and t not in hold for t in counts), p
    for c in {x for t in counts for x in (t[0], t[2])}:
        kept = sum(n for t, n in counts.items() if c in (t[0], t[2]) and t not in hold)
        alln = sum(n for t, n in counts.items() if c in (t[0], t[2]))
        assert kept >= 0.5 * alln, c
