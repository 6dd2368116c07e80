"""``python -m pyg_sgg.data.convert``: your own annotated images as a VG150-format dataset
(h5 + dicts json + image_data json + ``images/<id>.jpg``) that pyg_sgg (and SGB) read as
they read VG150.

Input: one JSON file ::

    {"images": [
      {"file_name": "kitchen.jpg", "split": "train",            # split optional
       "objects": [{"box": [x1, y1, x2, y2], "name": "man"}, {"box": [...], "name": "cup"}],
       "relations": [{"subject": 0, "object": 1, "predicate": "holding"}]}]}

``box`` is ``xyxy`` in pixels of the image as displayed (EXIF orientation applied; the
converted JPEG stores those pixels). The vocabulary is, as VG150 was built, the most frequent
``--num-classes`` object names and ``--num-predicates`` predicates (ties by name), or the
names listed in ``--classes`` / ``--predicates`` files (one per line); objects outside it are
dropped with their relations. Images without a ``split`` go to test with probability
``--test-fraction`` (seeded).

    python -m pyg_sgg.data.convert annotations.json --images photos/ --out my_vg \\
        --num-classes 150 --num-predicates 50
    python train.py --method ce DATASETS.VG.ROOT my_vg MODEL.MASK_ON False
    python -m pyg_sgg.data.convert VG_JSON_DIR --raw-vg --images VG_100K --out vg150 \
        --num-classes 150 --num-predicates 50    # Visual Genome's raw files
"""
import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..errors import DatasetFormatError

__all__ = ["convert_simple_json", "convert_images", "raw_visual_genome", "select_vocabulary"]


def select_vocabulary(counts: Counter, top: Optional[int] = None,
                      given: Optional[Sequence[str]] = None) -> List[str]:
    """``["__background__", ...]``: the ``given`` names, else the ``top`` most frequent
    (ties broken by name), else all by frequency."""
    if given is not None:
        names = [n for n in given if n and n != "__background__"]
    else:
        names = sorted(counts, key=lambda n: (-counts[n], n))
        names = names[:top] if top else names
    return ["__background__"] + list(names)


def _fail(path, i, field, msg):
    raise DatasetFormatError(f"{path}: image {i}: field '{field}': {msg}")


def _read(path: Path) -> List[dict]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: annotation file not found") from None
    except json.JSONDecodeError as e:
        raise DatasetFormatError(f"{path}: field '<json>': not valid JSON ({e})") from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise DatasetFormatError(f"{path}: field 'images': expected a list of images")
    for i, im in enumerate(images):
        if not isinstance(im, dict) or "file_name" not in im:
            _fail(path, i, "file_name", "missing")
        objs = im.get("objects", [])
        for k, o in enumerate(objs):
            box = o.get("box") if isinstance(o, dict) else None
            if (not isinstance(box, (list, tuple)) or len(box) != 4
                    or not all(isinstance(v, (int, float)) for v in box)
                    or not np.isfinite(box).all() or box[2] < box[0] or box[3] < box[1]):
                _fail(path, i, f"objects[{k}].box", f"expected [x1, y1, x2, y2] with x2 >= x1, "
                                                   f"y2 >= y1, got {box!r}")
            if not isinstance(o.get("name"), str) or not o["name"]:
                _fail(path, i, f"objects[{k}].name", "expected a non-empty string")
        for k, r in enumerate(im.get("relations", [])):
            for key in ("subject", "object"):
                v = r.get(key) if isinstance(r, dict) else None
                if not isinstance(v, int) or not 0 <= v < len(objs):
                    _fail(path, i, f"relations[{k}].{key}", f"expected an object index "
                                                          f"0..{len(objs) - 1}, got {v!r}")
            if not isinstance(r.get("predicate"), str) or not r["predicate"]:
                _fail(path, i, f"relations[{k}].predicate", "expected a non-empty string")
            if r["subject"] == r["object"]:
                _fail(path, i, f"relations[{k}]", "subject and object are the same object")
        if im.get("split", "train") not in ("train", "test"):
            _fail(path, i, "split", f"expected 'train' or 'test', got {im['split']!r}")
    return images


def convert_simple_json(annotations, image_dir, out_dir, num_classes: Optional[int] = None,
                        num_predicates: Optional[int] = None,
                        classes: Optional[Sequence[str]] = None,
                        predicates: Optional[Sequence[str]] = None,
                        test_fraction: float = 0.3, seed: int = 0) -> Dict[str, int]:
    """Convert (see the module docstring); returns counts of what was written and dropped."""
    annotations = Path(annotations)
    return convert_images(_read(annotations), annotations, image_dir, out_dir, num_classes,
                          num_predicates, classes, predicates, test_fraction, seed)


def convert_images(images: List[dict], annotations, image_dir, out_dir,
                   num_classes: Optional[int] = None, num_predicates: Optional[int] = None,
                   classes: Optional[Sequence[str]] = None,
                   predicates: Optional[Sequence[str]] = None, test_fraction: float = 0.3,
                   seed: int = 0) -> Dict[str, int]:
    """:func:`convert_simple_json` of an already read and checked ``images`` list (named
    ``annotations`` in messages)."""
    from .vg import read_rgb
    from .vg_writer import write_vg150

    image_dir, out = Path(image_dir), Path(out_dir)
    for i, im in enumerate(images):  # every problem before any writing
        if not (image_dir / im["file_name"]).is_file():
            _fail(annotations, i, "file_name", f"image {image_dir / im['file_name']} not found")
    obj_counts = Counter(o["name"] for im in images for o in im.get("objects", []))
    pred_counts = Counter(r["predicate"] for im in images for r in im.get("relations", []))
    obj_vocab = select_vocabulary(obj_counts, num_classes, classes)
    pred_vocab = select_vocabulary(pred_counts, num_predicates, predicates)
    obj_idx = {n: k for k, n in enumerate(obj_vocab)}
    pred_idx = {n: k for k, n in enumerate(pred_vocab)}
    rng = np.random.default_rng(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    records, dropped_obj, dropped_rel = [], 0, 0
    from PIL import Image
    for i, im in enumerate(images):
        pixels = read_rgb(image_dir / im["file_name"], exif_transpose=True)
        h, w = pixels.shape[:2]
        objs = im.get("objects", [])
        keep = [k for k, o in enumerate(objs) if o["name"] in obj_idx]
        dropped_obj += len(objs) - len(keep)
        new = {k: j for j, k in enumerate(keep)}
        rels = []
        for r in im.get("relations", []):
            if r["subject"] in new and r["object"] in new and r["predicate"] in pred_idx:
                rels.append([new[r["subject"]], new[r["object"]], pred_idx[r["predicate"]]])
            else:
                dropped_rel += 1
        boxes = np.asarray([objs[k]["box"] for k in keep], dtype=np.float64).reshape(-1, 4)
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w - 1)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h - 1)
        split = im.get("split") or ("test" if rng.random() < test_fraction else "train")
        iid = i + 1
        tmp = out / "images" / f".{iid}.jpg.tmp"
        Image.fromarray(pixels).save(tmp, "JPEG", quality=95)
        tmp.replace(out / "images" / f"{iid}.jpg")
        records.append(dict(image_id=iid, width=w, height=h, file_name=f"{iid}.jpg",
                            boxes=boxes, labels=[obj_idx[objs[k]["name"]] for k in keep],
                            relations=np.asarray(rels, dtype=np.int64).reshape(-1, 3),
                            split=2 if split == "test" else 0))
    write_vg150(out, records, obj_vocab, pred_vocab)
    return {"images": len(records), "classes": len(obj_vocab) - 1,
            "predicates": len(pred_vocab) - 1,
            "objects": sum(len(r["labels"]) for r in records),
            "relations": sum(len(r["relations"]) for r in records),
            "test_images": sum(r["split"] == 2 for r in records),
            "dropped_objects": dropped_obj, "dropped_relations": dropped_rel}


def _clean(name) -> str:
    """VG150's name normalisation, simplified: lower case, single spaces."""
    return " ".join(str(name).lower().strip().split())


def _load_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise DatasetFormatError(f"{path}: field '<json>': not valid JSON ({e})") from None


def raw_visual_genome(folder) -> List[dict]:
    """Visual Genome's raw ``objects.json``, ``relationships.json`` and ``image_data.json``
    (of ``folder``) as the simple format's images: the objects are those of
    ``objects.json`` (first name, ``x, y, w, h`` -> ``xyxy`` as ``x + w``), the relations
    those of ``relationships.json`` whose subject and object ids are among them; images
    without objects are skipped. ``file_name``: ``<image_id>.jpg`` (VG's file names)."""
    folder = Path(folder)
    info = {int(r["image_id"]): r for r in _load_json(folder / "image_data.json")}
    rels = {int(r["image_id"]): r.get("relationships", [])
            for r in _load_json(folder / "relationships.json")}
    images = []
    for k, rec in enumerate(_load_json(folder / "objects.json")):
        iid = int(rec.get("image_id", -1))
        if iid not in info:
            raise DatasetFormatError(f"{folder / 'objects.json'}: record {k}: field "
                                     f"'image_id': {iid} is not in image_data.json")
        objects, index = [], {}
        for o in rec.get("objects", []):
            names = o.get("names") or ([o["name"]] if "name" in o else [])
            if not names or o.get("w", 0) <= 0 or o.get("h", 0) <= 0:
                continue
            index[int(o["object_id"])] = len(objects)
            x, y = float(o["x"]), float(o["y"])
            objects.append({"box": [x, y, x + float(o["w"]), y + float(o["h"])],
                            "name": _clean(names[0])})
        if not objects:
            continue
        relations = []
        for r in rels.get(iid, []):
            s_id = int(r["subject"]["object_id"])
            o_id = int(r["object"]["object_id"])
            if s_id in index and o_id in index and s_id != o_id and r.get("predicate"):
                relations.append({"subject": index[s_id], "object": index[o_id],
                                  "predicate": _clean(r["predicate"])})
        images.append({"file_name": f"{iid}.jpg", "objects": objects,
                       "relations": relations})
    return images


def _names(path: Optional[str]) -> Optional[List[str]]:
    if path is None:
        return None
    return [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("annotations", help="the simple JSON file (see --help), or with --raw-vg "
                                       "the folder of objects.json, relationships.json and "
                                       "image_data.json")
    p.add_argument("--raw-vg", action="store_true",
                   help="read Visual Genome's raw json files (the images: VG_100K)")
    p.add_argument("--images", required=True, help="folder of the images (file_name)")
    p.add_argument("--out", required=True, help="output dataset folder")
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--num-predicates", type=int, default=None)
    p.add_argument("--classes", help="file of object class names, one per line")
    p.add_argument("--predicates", help="file of predicate names, one per line")
    p.add_argument("--test-fraction", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    try:
        if a.raw_vg:
            counts = convert_images(raw_visual_genome(a.annotations), a.annotations, a.images,
                                    a.out, a.num_classes, a.num_predicates, _names(a.classes),
                                    _names(a.predicates), a.test_fraction, a.seed)
        else:
            counts = convert_simple_json(a.annotations, a.images, a.out, a.num_classes,
                                         a.num_predicates, _names(a.classes),
                                         _names(a.predicates), a.test_fraction, a.seed)
    except (FileNotFoundError, DatasetFormatError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{a.out}: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()))
    print(f"train on it (a box-only detector: no COCO masks): python train.py --method ce "
          f"DATASETS.VG.ROOT {a.out} MODEL.MASK_ON False")
    return 0


if __name__ == "__main__":
    sys.exit(main())
