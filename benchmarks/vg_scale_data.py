"""Data at Visual Genome's size: a VG150-sized dataset (108,073 images, ≈ 1.1 M boxes, ≈ 620 k
relations, the real VG150 vocabulary when ``../shared/data/vg150`` is there) written by the
project's own writer, then, in a fresh process, the time and peak memory to

1. open the training split (h5 + dicts + image_data, SGB's filters),
2. build the other splits (val hold-out, test),
3. compute the statistics (frequency bias, zero- / few-shot triplets),
4. iterate one epoch of ``SceneGraph`` objects without images.

Target (the performance issue): the whole ≤ 30 s and ≤ 2 GB.

    python benchmarks/vg_scale_data.py                  # writes into the cache once
    python benchmarks/vg_scale_data.py --images 20000   # smaller
"""
import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def vocabulary():
    """``(object_classes, predicate_classes)`` with background first: VG150's when the shared
    dictionary file is there, else generic names of VG150's sizes."""
    dicts = ROOT.parent / "shared" / "data" / "vg150" / "VG-SGG-dicts-with-attri.json"
    if dicts.is_file():
        d = json.loads(dicts.read_text())
        objs = sorted(d["label_to_idx"], key=lambda k: d["label_to_idx"][k])
        preds = sorted(d["predicate_to_idx"], key=lambda k: d["predicate_to_idx"][k])
        return ["__background__"] + objs, ["__background__"] + preds
    return (["__background__"] + [f"object{i}" for i in range(1, 151)],
            ["__background__"] + [f"predicate{i}" for i in range(1, 51)])


def generate(out: Path, num_images: int, seed: int = 0) -> Path:
    """Write a VG150-shaped dataset of ``num_images`` images (no image files) to ``out``."""
    from pyg_sgg.data.vg_writer import write_vg150
    objs, preds = vocabulary()
    C, P = len(objs) - 1, len(preds) - 1
    rng = np.random.default_rng(seed)
    n_obj = rng.integers(2, 20, num_images)  # mean ≈ 10.5 boxes per image, as VG150's
    n_rel = np.minimum(rng.integers(0, 12, num_images), n_obj * (n_obj - 1))  # ≈ 5.7
    # a Zipf-like class distribution, as VG's long tail
    pc = 1.0 / np.arange(1, C + 1)
    qc = 1.0 / np.arange(1, P + 1) ** 1.5
    images = []
    test = rng.random(num_images) < 0.3
    for i in range(num_images):
        n, m = int(n_obj[i]), int(n_rel[i])
        w, h = int(rng.integers(300, 800)), int(rng.integers(300, 800))
        # large boxes in the middle: most pairs overlap, as annotated VG pairs do (SGB's
        # filter_non_overlap keeps only overlapping training relations)
        xy = rng.uniform(0, [w * 0.5, h * 0.5], (n, 2))
        wh = rng.uniform([w * 0.25, h * 0.25], [w * 0.5, h * 0.5], (n, 2))
        boxes = np.concatenate([xy, np.minimum(xy + wh, [w - 1, h - 1])], 1)
        s = rng.integers(0, n, m)
        o = (s + rng.integers(1, n, m)) % n
        rel = np.stack([s, o, rng.choice(P, m, p=qc / qc.sum()) + 1], 1)
        images.append({"image_id": i + 1, "width": w, "height": h, "boxes": boxes,
                       "labels": rng.choice(C, n, p=pc / pc.sum()) + 1, "relations": rel,
                       "split": 2 if test[i] else 0})
    write_vg150(out, images, objs, preds)
    return out


def measure(root: str) -> dict:
    """The four stages in this process: seconds each and the peak RSS (GiB)."""
    from pyg_sgg.data.statistics import get_statistics
    from pyg_sgg.data.vg import VGDataset
    t = {}
    t0 = time.perf_counter()
    train = VGDataset(root, "train")
    t["open train"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    splits = [VGDataset(root, "val"), VGDataset(root, "test", filter_empty_rels=False)]
    t["other splits"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    stats = get_statistics(train)
    t["statistics"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    boxes = rels = 0
    for i in range(len(train)):
        g = train[i]
        boxes += g.boxes.size(0)
        rels += g.gt_rel_label.numel()
    t["epoch of SceneGraphs"] = time.perf_counter() - t0
    t["total"] = sum(t.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return {"seconds": t, "peak_rss_gib": peak, "train_images": len(train),
            "val_images": len(splits[0]), "test_images": len(splits[1]),
            "train_boxes": boxes, "train_relations": rels,
            "train_triplet_types": int(stats["train_triplets"].shape[0])}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=108_073)
    p.add_argument("--out", default=None, help="dataset folder (default: in the cache)")
    p.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # child process
    args = p.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    from pyg_sgg.paths import cache_dir
    out = Path(args.out) if args.out else cache_dir() / f"vg_scale_{args.images}"
    if not (out / "VG-SGG-with-attri.h5").is_file():
        t0 = time.perf_counter()
        generate(out, args.images)
        print(f"wrote {out} in {time.perf_counter() - t0:.0f} s")
    child = subprocess.run([sys.executable, __file__, "--measure", str(out)],
                           capture_output=True, text=True, check=True)
    r = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"{r['train_images']} train / {r['val_images']} val / {r['test_images']} test images; "
          f"one epoch: {r['train_boxes']} boxes, {r['train_relations']} relations; "
          f"{r['train_triplet_types']} training triplet types")
    for k, v in r["seconds"].items():
        print(f"{k:<22} {v:7.2f} s")
    print(f"peak RSS               {r['peak_rss_gib']:7.2f} GiB   (target: total <= 30 s, "
          f"<= 2 GiB)")


if __name__ == "__main__":
    main()
