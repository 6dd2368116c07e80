"""Generate SynthVG + SynthCOCO into a folder (in parallel), and the cached default folder."""
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import numpy as np

from ...build_lock import build_lock
from .annotation import mask_boxes, spatial_facts
from .config import SynthConfig
from .holdout import choose_holdout
from .rendering import render
from .report import build_report, format_report
from .scene_grammar import MAX_RELATIONS, sample_scene
from .vocabulary import COARSE_PARENT, COCO_CLASSES, COCO_NAME, OBJECT_CLASSES, PREDICATES

GENERATOR_VERSION = 1  # bump when the generated data changes: cached folders are regenerated


# --------------------------------------------------------------------------- one image
_CTX: dict = {}


def _make_image(job):
    """Samples, renders and annotates image ``job = (kind, index)``; writes the JPEG."""
    kind, i = job
    cfg, seed, out = _CTX["cfg"], _CTX["seed"], _CTX["out"]
    holdout = _CTX["holdout"]
    cls_idx = {c: k + 1 for k, c in enumerate(OBJECT_CLASSES)}
    pred_idx = {p: k + 1 for k, p in enumerate(PREDICATES)}
    rng = np.random.default_rng([seed, 0 if kind == "vg" else 1, i])
    split = 2 if rng.random() < (cfg.test_fraction if kind == "vg"
                                  else cfg.coco_val_fraction) else 0
    for _ in range(20):
        scene = sample_scene(rng, holdout if (kind == "vg" and split == 0) else frozenset())
        W, H = scene["width"], scene["height"]
        img, boxes, areas, masks = render(scene["objects"], W, H, scene["horizon"], rng,
                                          want_masks=True)
        vis_area = masks.reshape(masks.shape[0], -1).sum(1)
        # keep objects that are large enough and visible enough
        keep = ((boxes[:, 2] - boxes[:, 0]) >= 4) & ((boxes[:, 3] - boxes[:, 1]) >= 4)
        keep &= vis_area >= cfg.min_visible * np.maximum(areas, 1)
        facts = list(scene["facts"]) + spatial_facts(scene, boxes, rng, cfg)
        facts = [f for f in facts if keep[f[0]] and keep[f[1]]]
        if kind == "vg" and split == 0:
            facts = [f for f in facts if (scene["objects"][f[0]]["cls"], f[2],
                                          scene["objects"][f[1]]["cls"]) not in holdout]
        facts = list(dict.fromkeys(facts))
        if len(facts) > MAX_RELATIONS:
            sel = np.sort(rng.choice(len(facts), MAX_RELATIONS, replace=False))
            facts = [facts[k] for k in sel]
        if kind == "coco":
            if any(keep[k] and o["cls"] in COCO_NAME for k, o in enumerate(scene["objects"])):
                break
        elif facts and keep.sum() >= 2:
            break
    new = -np.ones(len(keep), np.int64)
    new[keep] = np.arange(int(keep.sum()))
    labels = np.array([cls_idx[scene["objects"][k]["cls"]] for k in np.nonzero(keep)[0]], np.int64)
    rels = np.zeros((len(facts), 3), np.int64)
    fine = []
    for r, (a, b, p) in enumerate(facts):
        parent = COARSE_PARENT.get(p)
        rep = parent if parent is not None and rng.random() < cfg.coarse_prob else p
        rels[r] = (new[a], new[b], pred_idx[rep])
        fine.append(pred_idx[p])
    image_id = i + 1
    folder = out / ("images" if kind == "vg" else "coco/images")
    img.save(folder / f"{image_id}.jpg", quality=cfg.jpeg_quality)
    rec = {"image_id": image_id, "width": W, "height": H, "file_name": f"{image_id}.jpg",
           "boxes": boxes[keep].astype(np.float32), "labels": labels, "relations": rels,
           "fine_predicates": np.array(fine, np.int64), "split": split}
    if kind == "coco":
        names = [COCO_NAME.get(scene["objects"][k]["cls"]) for k in np.nonzero(keep)[0]]
        sel = np.array([n is not None for n in names], bool)
        vm = masks[keep][sel]
        sel_idx = np.nonzero(sel)[0]
        area_ok = vm.reshape(vm.shape[0], -1).sum(1) >= 16
        sel_idx, vm = sel_idx[area_ok], vm[area_ok]
        rec = {"id": image_id, "file_name": f"{image_id}.jpg", "width": W, "height": H,
               "boxes": mask_boxes(vm), "vg_labels": labels[sel_idx],
               "labels": np.array([COCO_CLASSES.index(names[k]) + 1 for k in sel_idx], np.int64),
               "packed_masks": np.packbits(vm.astype(bool), axis=-1), "val": split == 2}
    return rec


# --------------------------------------------------------------------------- whole dataset
def _init_worker(ctx):
    _CTX.update(ctx)


class _LazyCocoImages(Sequence):
    """COCO image records whose masks are unpacked on access (keeps memory small)."""

    def __init__(self, recs):
        self.recs = recs

    def __len__(self):
        return len(self.recs)

    def __getitem__(self, k):
        r = self.recs[k]
        n = len(r["labels"])
        masks = np.unpackbits(r["packed_masks"], axis=-1, count=r["width"]).astype(np.uint8)
        masks = masks.reshape(n, r["height"], r["width"])
        return {"id": r["id"], "file_name": r["file_name"], "width": r["width"],
                "height": r["height"], "boxes": r["boxes"], "labels": r["labels"], "masks": masks}


def generate(out_dir, num_images: int = 4000, seed: int = 0, cfg: Optional[SynthConfig] = None,
             workers: Optional[int] = None, progress: bool = True,
             num_coco_images: Optional[int] = None, return_records: bool = False):
    """Generates SynthVG (+ SynthCOCO) into ``out_dir``; returns the report (also written as
    ``report.json``). Deterministic in ``(num_images, seed, cfg)``, whatever ``workers``.

    With ``return_records``: ``(report, vg_records, coco_records)``, the generator's own
    per-image records (``boxes``, ``labels``, ``relations``, ``fine_predicates``, ``split``;
    COCO: ``boxes``, ``labels``, ``packed_masks``, ``val``)."""
    from ..coco_writer import write_coco_instances
    from ..vg_writer import write_vg150

    t0 = time.time()
    cfg = cfg or SynthConfig()
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "coco" / "images").mkdir(parents=True, exist_ok=True)
    (out / "coco" / "annotations").mkdir(parents=True, exist_ok=True)
    if num_coco_images is None:
        num_coco_images = max(2, int(round(cfg.coco_fraction * num_images)))
    holdout = choose_holdout(seed, cfg)
    ctx = {"cfg": cfg, "seed": seed, "out": out, "holdout": frozenset(holdout)}
    jobs = [("vg", i) for i in range(num_images)] + [("coco", j) for j in range(num_coco_images)]
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if len(jobs) >= 200 else 1
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc="SynthVG", unit="img", file=sys.stderr, mininterval=1.0,
                   disable=None)  # None: no bar when stderr is not a terminal
    recs = []
    if workers <= 1:
        _init_worker(ctx)
        for j in jobs:
            recs.append(_make_image(j))
            if bar is not None:
                bar.update()
    else:
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        with mp.get_context(method).Pool(workers, _init_worker, (ctx,)) as pool:
            for r in pool.imap(_make_image, jobs, chunksize=8):
                recs.append(r)
                if bar is not None:
                    bar.update()
    if bar is not None:
        bar.close()
    vg, coco = recs[:num_images], recs[num_images:]
    obj_names = ["__background__"] + list(OBJECT_CLASSES)
    pred_names = ["__background__"] + list(PREDICATES)
    write_vg150(out, vg, obj_names, pred_names)
    for part, val in (("train", False), ("val", True)):
        sel = [r for r in coco if r["val"] == val]
        write_coco_instances(out / "coco" / "annotations" / f"instances_{part}.json",
                             _LazyCocoImages(sel), ["__background__"] + list(COCO_CLASSES))
    with open(out / "holdout_triplets.json", "w") as f:
        json.dump([list(t) for t in holdout], f)
    report = build_report(vg, coco, holdout)
    report["generator_version"] = GENERATOR_VERSION
    report["generation_seconds"] = round(time.time() - t0, 2)
    report["config"] = {"num_images": num_images, "seed": seed, "workers": workers, **asdict(cfg)}
    with open(out / "report.json", "w") as f:
        json.dump(report, f, indent=1)
    if return_records:
        return report, vg, coco
    return report


def default_root(num_images: int = 4000, seed: int = 0) -> Path:
    from ...paths import cache_dir
    return cache_dir() / f"synthvg-s{seed}-n{num_images}"


def _generator_version(root: Path) -> Optional[int]:
    try:
        with open(root / "report.json") as f:
            return int(json.load(f).get("generator_version", 0))
    except (OSError, ValueError, AttributeError):
        return None


def ensure_dataset(root=None, num_images: int = 4000, seed: int = 0,
                   progress: bool = True) -> Path:
    """The SynthVG folder for ``(num_images, seed)``: generated once (under
    ``pyg_sgg.paths.cache_dir()`` when ``root`` is None), then reused instantly.

    A folder written by an older generator version is regenerated; a non-empty folder that
    is not a SynthVG folder is never touched (error)."""
    root = Path(root) if root is not None else default_root(num_images, seed)
    if _generator_version(root) == GENERATOR_VERSION:
        return root
    with build_lock(root):  # a concurrent run generating it: wait, then reuse its folder
        return _generate_locked(root, num_images, seed, progress)


def _generate_locked(root: Path, num_images: int, seed: int, progress: bool) -> Path:
    version = _generator_version(root)
    if version == GENERATOR_VERSION:
        return root
    if version is None and root.is_dir() and any(root.iterdir()):
        raise FileExistsError(f"{root}: field 'report.json': missing; the folder is not empty "
                              f"and not a SynthVG folder, refusing to overwrite it")
    root.parent.mkdir(parents=True, exist_ok=True)
    # holding the build lock: any temporary folder of this dataset is a killed build's
    for leftover in root.parent.glob(f".{root.name}.tmp*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    tmp = root.parent / f".{root.name}.tmp{os.getpid()}"
    rep = generate(tmp, num_images=num_images, seed=seed, progress=progress)
    if progress:
        print(format_report(rep), file=sys.stderr)
    if _generator_version(root) == GENERATOR_VERSION:  # a concurrent run finished first
        shutil.rmtree(tmp)
        return root
    if root.exists():  # an older version (or an empty folder)
        shutil.rmtree(root)
    os.replace(tmp, root)
    return root
