"""The dataset report (report.json and the summary printed after generation)."""
from typing import List

import numpy as np

from .vocabulary import COCO_CLASSES, OBJECT_CLASSES, PREDICATES


def build_report(vg: List[dict], coco: List[dict], holdout=()) -> dict:
    """Class / predicate histograms, per-image counts, zero-shot and few-shot figures."""
    from ..statistics import few_shot_bins, triplet_counts, zero_shot_mask

    labels = np.concatenate([r["labels"] for r in vg])
    n_obj = np.array([len(r["labels"]) for r in vg])
    n_rel = np.array([len(r["relations"]) for r in vg])
    split = np.array([r["split"] for r in vg])

    def triplets(recs):  # (subject class, object class, predicate)
        t = [np.stack([r["labels"][r["relations"][:, 0]], r["labels"][r["relations"][:, 1]],
                       r["relations"][:, 2]], 1) for r in recs if len(r["relations"])]
        return np.concatenate(t) if t else np.zeros((0, 3), np.int64)

    tr = triplets([r for r in vg if r["split"] == 0])
    te = triplets([r for r in vg if r["split"] == 2])
    preds = np.concatenate([tr[:, 2], te[:, 2]])
    pc = np.bincount(preds, minlength=len(PREDICATES) + 1)[1:]
    frac = pc / max(1, pc.sum())
    zs = zero_shot_mask(tr, te)
    train_counts = triplet_counts(tr)
    bins = [(0, 0), (1, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, 10 ** 9)]
    fs = few_shot_bins(train_counts, te, bins)
    coco_labels = np.concatenate([r["labels"] for r in coco]) if coco else np.zeros(0, int)
    no_same = [c for c in OBJECT_CLASSES if c not in COCO_CLASSES]
    return {
        "num_images": {"train": int((split == 0).sum()), "test": int((split == 2).sum())},
        # VGDataset takes val from the first train images (SGB default 5000: too many here)
        "recommended_num_val_images": int(round(0.1 * (split == 0).sum())),
        "num_objects": int(labels.size), "num_relations": int(n_rel.sum()),
        "objects_per_image": {"min": int(n_obj.min()), "mean": round(float(n_obj.mean()), 2),
                              "max": int(n_obj.max())},
        "relations_per_image": {"min": int(n_rel.min()), "mean": round(float(n_rel.mean()), 2),
                                "max": int(n_rel.max())},
        "image_sizes": {"min": int(min(min(r["width"], r["height"]) for r in vg)),
                        "max": int(max(max(r["width"], r["height"]) for r in vg))},
        "num_object_classes": len(OBJECT_CLASSES), "num_predicates": len(PREDICATES),
        "class_counts": {c: int(n) for c, n in zip(
            OBJECT_CLASSES, np.bincount(labels, minlength=len(OBJECT_CLASSES) + 1)[1:])},
        "predicate_counts": {p: int(n) for p, n in zip(PREDICATES, pc)},
        "predicate_fractions": {p: round(float(f), 4) for p, f in zip(PREDICATES, frac)},
        "top_predicate": PREDICATES[int(frac.argmax())],
        "top_predicate_fraction": round(float(frac.max()), 4),
        "num_predicates_under_2pct": int((frac < 0.02).sum()),
        "zero_shot_fraction": round(float(zs.mean()) if zs.size else 0.0, 4),
        "num_zero_shot_triplets": int(len({tuple(t) for t in te[zs]})),
        "num_holdout_triplets": len(holdout),
        "num_train_triplets": int(len(train_counts[0])),
        "few_shot_bins_test_relations": {f"{lo}-{hi}" if hi < 10 ** 9 else f">{lo - 1}": int(n)
                                         for (lo, hi), n in zip(bins, fs)},
        "coco": {"classes": list(COCO_CLASSES), "num_images": len(coco),
                 "num_annotations": int(coco_labels.size),
                 "class_counts": {c: int(n) for c, n in zip(COCO_CLASSES, np.bincount(
                     coco_labels, minlength=len(COCO_CLASSES) + 1)[1:])},
                 "vg_classes_without_same_named_coco_class": len(no_same)},
    }


def format_report(rep: dict) -> str:
    lines = [f"SynthVG: {rep['num_images']['train']} train + {rep['num_images']['test']} "
             f"test images, "
             f"{rep['num_objects']} objects, {rep['num_relations']} relations, "
             f"{rep['num_object_classes']} classes, {rep['num_predicates']} predicates",
             f"objects/image {rep['objects_per_image']}, "
             f"relations/image {rep['relations_per_image']}",
             "predicates:"]
    for p, n in sorted(rep["predicate_counts"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {p:14s} {n:7d}  {100 * rep['predicate_fractions'][p]:5.1f}%")
    by_count = sorted(rep["class_counts"].items(), key=lambda kv: -kv[1])
    lines.append("classes: " + ", ".join(f"{c} {n}" for c, n in by_count))
    lines.append(f"zero-shot test relations: {100 * rep['zero_shot_fraction']:.1f}% "
                 f"({rep['num_zero_shot_triplets']} triplets), few-shot bins of test relations "
                 f"by train count: {rep['few_shot_bins_test_relations']}")
    c = rep["coco"]
    lines.append(f"SynthCOCO: {c['num_images']} images, {c['num_annotations']} masks, "
                 f"{len(c['classes'])} classes; {c['vg_classes_without_same_named_coco_class']} "
                 f"SynthVG classes have no same-named COCO class")
    if "generation_seconds" in rep:
        lines.append(f"generated in {rep['generation_seconds']:.1f} s")
    return "\n".join(lines)
