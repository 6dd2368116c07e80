"""Evaluation speed on a 5,000-image VG-sized predictions file (issue 3's target: <= 1.5 s).

Writes a synthetic file of VG150 size (150 classes, 50 predicates; PredCls ~12 objects and
~115 scored pairs per image, SGDet ~20 detections and ~280 pairs), scores it with every
metric at K = 20, 50, 100, and times the simple per-image reference of ``tests/`` on a
subset in the same run (extrapolated linearly to the whole file).

    python benchmarks/eval_speed.py [--images 5000] [--reference-images 100]
    python benchmarks/eval_speed.py --scaling 1000 5000 20000 50000   # linear in the pairs?
    python benchmarks/eval_speed.py --chunking 20000     # chunked vs whole-file scoring
    python benchmarks/eval_speed.py --whole-command 5000  # evaluate.py's peak RSS

``--scaling``: the scoring alone (no reference) at each number of images, printing images/s
and scored pairs/s (flat when the cost is linear in the scored pairs) and the peak memory.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pyg_sgg.evaluation import (evaluate_predictions,  # noqa: E402
                                read_predictions, write_predictions)
from tests.evaluation.simple_reference import reference_metrics  # noqa: E402


def vg_sized_file(num_images, objects, pairs, mode, P=50, C=150, seed=0):
    rng = np.random.default_rng(seed)
    n_obj = rng.integers(objects - 4, objects + 5, num_images)
    obj_ptr = np.concatenate([[0], np.cumsum(n_obj)])
    N = int(obj_ptr[-1])
    xy = rng.uniform(0, 500, (N, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(20, 200, (N, 2)).astype(np.float32)], 1)
    labels = rng.integers(1, C + 1, N)
    n_rel = rng.integers(3, 10, num_images)
    img = np.repeat(np.arange(num_images), n_rel)
    sub = rng.integers(0, n_obj[img])
    obj = (sub + 1 + rng.integers(0, n_obj[img] - 1)) % n_obj[img]
    gt_rels = np.stack([sub, obj, rng.integers(1, P + 1, img.size)], 1)
    n_pair = np.minimum(rng.integers(pairs - 20, pairs + 21, num_images), n_obj * (n_obj - 1))
    pimg = np.repeat(np.arange(num_images), n_pair)
    ps = rng.integers(0, n_obj[pimg])
    po = (ps + 1 + rng.integers(0, n_obj[pimg] - 1)) % n_obj[pimg]
    logits = rng.normal(size=(pimg.size, P + 1)).astype(np.float32)
    scores = np.exp(logits)
    scores /= scores.sum(1, keepdims=True)
    data = {"num_predicates": np.asarray(P), "gt_obj_ptr": obj_ptr, "gt_boxes": boxes,
            "gt_labels": labels, "gt_rel_ptr": np.concatenate([[0], np.cumsum(n_rel)]),
            "gt_rels": gt_rels, "rel_ptr": np.concatenate([[0], np.cumsum(n_pair)]),
            "rel_pair_idx": np.stack([ps, po], 1), "rel_scores": scores,
            "train_triplets": np.stack([rng.integers(1, C + 1, 3000),
                                        rng.integers(1, C + 1, 3000),
                                        rng.integers(1, P + 1, 3000)], 1)}
    if mode == "sgdet":
        jitter = rng.normal(0, 5, boxes.shape).astype(np.float32)
        moved = boxes + jitter  # kept xyxy: a jitter larger than the box must not invert it
        moved = np.concatenate([np.minimum(moved[:, :2], moved[:, 2:]),
                                np.maximum(moved[:, :2], moved[:, 2:])], 1)
        data.update(pred_obj_ptr=obj_ptr, pred_boxes=moved, pred_labels=labels,
                    pred_scores=rng.uniform(0.3, 1, N).astype(np.float32))
    return data


def subset(data, n):
    """The first ``n`` images of a file."""
    out = dict(data)
    for ptr_key, keys in (("gt_obj_ptr", ("gt_boxes", "gt_labels")),
                          ("gt_rel_ptr", ("gt_rels",)), ("rel_ptr", ("rel_pair_idx", "rel_scores")),
                          ("pred_obj_ptr", ("pred_boxes", "pred_labels", "pred_scores"))):
        if ptr_key in data:
            end = data[ptr_key][n]
            out[ptr_key] = data[ptr_key][:n + 1]
            for k in keys:
                out[k] = data[k][:end]
    return out


def written_and_read(num_images, objects, pairs, mode):
    """``(data, read seconds)``: a VG-sized file written to disk and read back as
    ``evaluate.py`` reads it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_predictions(Path(tmp) / f"{mode}.npz",
                                 vg_sized_file(num_images, objects, pairs, mode))
        t = time.perf_counter()
        data = read_predictions(path, mode)
        return data, time.perf_counter() - t


def scored(data, mode):
    """``(seconds, peak MiB)`` of scoring ``data`` with every metric (tracemalloc's peak)."""
    tracemalloc.start()
    t = time.perf_counter()
    evaluate_predictions(data, mode)
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return seconds, peak


def scaling(sizes):
    """Scoring rate and peak memory at each size (the file built in memory)."""
    print(f"{'mode':8} {'images':>7} {'pairs':>10} {'score s':>8} {'images/s':>9} "
          f"{'M pairs/s':>10} {'peak MiB':>9}")
    for mode, objects, pairs in (("predcls", 12, 115), ("sgdet", 20, 280)):
        for n in sizes:
            data, _ = written_and_read(n, objects, pairs, mode)
            t_score, peak = scored(data, mode)
            m = int(data["rel_ptr"][-1])
            print(f"{mode:8} {n:>7} {m:>10} {t_score:8.2f} {n / t_score:9.0f} "
                  f"{m / t_score / 1e6:10.2f} {peak:9.0f}", flush=True)
            del data


def chunking(num_images, repeat=2):
    """Scoring in the default chunks of images vs all images at once, side by side (min of
    ``repeat`` interleaved runs each)."""
    for mode, objects, pairs in (("predcls", 12, 115), ("sgdet", 20, 280)):
        data, _ = written_and_read(num_images, objects, pairs, mode)
        best = {"whole": float("inf"), "chunked": float("inf")}
        for _ in range(repeat):
            for name, kw in (("whole", {"chunk_pairs": 10 ** 12}), ("chunked", {})):
                t = time.perf_counter()
                evaluate_predictions(data, mode, **kw)
                best[name] = min(best[name], time.perf_counter() - t)
        print(f"{mode:8} {num_images} images: whole {best['whole']:.2f} s, chunked "
              f"{best['chunked']:.2f} s, x{best['whole'] / best['chunked']:.2f}", flush=True)


_WHOLE_COMMAND = """
import sys
from pyg_sgg.evaluation import evaluate_predictions, read_predictions
from pyg_sgg.evaluation.tables import write_metrics_json
data = read_predictions(sys.argv[1], sys.argv[2], scores_on_disk=sys.argv[3] == "disk")
write_metrics_json(evaluate_predictions(data, sys.argv[2]), sys.argv[4])
"""


_WRITE_FILE = """
import sys
sys.path.insert(0, sys.argv[1] + "/benchmarks")
from eval_speed import vg_sized_file, write_predictions
write_predictions(sys.argv[2], vg_sized_file(*map(int, sys.argv[3:6]), sys.argv[6]))
"""


def _child_run(argv):
    """``(seconds, peak RSS GiB)`` of a child process (its own ``wait4`` accounting)."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{argv[:3]} failed with exit status {proc.returncode}")
    return time.perf_counter() - t, usage.ru_maxrss / 2 ** 20  # ru_maxrss is in KiB


def whole_command(num_images, repeat=2):
    """``evaluate.py``'s read + validate + score + write in a fresh process, the score matrix
    read whole vs left on disk (read a chunk of images at a time), side by side: peak RSS
    and seconds (min of ``repeat`` interleaved runs; interpreter start-up included)."""
    root = str(Path(__file__).resolve().parents[1])
    for mode, objects, pairs in (("predcls", 12, 115), ("sgdet", 80, 400)):
        with tempfile.TemporaryDirectory() as tmp:
            # Written by a child too: a child's peak RSS counts the peak of the process it was
            # started from (Linux carries the parent's high-water mark over fork / exec).
            path = Path(tmp) / f"{mode}.npz"
            _child_run([sys.executable, "-c", _WRITE_FILE, root, str(path), str(num_images),
                        str(objects), str(pairs), mode])
            size = path.stat().st_size / 2 ** 30
            best = {}
            for _ in range(repeat):
                for how in ("whole", "disk"):
                    out = Path(tmp) / f"{how}.json"
                    sec, peak = _child_run([sys.executable, "-c", _WHOLE_COMMAND, str(path),
                                            mode, how, str(out)])
                    old = best.get(how, (float("inf"), 0.0))
                    best[how] = (min(old[0], sec), max(old[1], peak))
            same = (Path(tmp) / "whole.json").read_bytes() == (Path(tmp) / "disk.json").read_bytes()
        print(f"{mode:8} {num_images} images ({objects} objects, {pairs} pairs; file "
              f"{size:.2f} GiB): read whole {best['whole'][1]:.2f} GiB {best['whole'][0]:.2f} s"
              f", scores on disk {best['disk'][1]:.2f} GiB {best['disk'][0]:.2f} s, peak "
              f"x{best['whole'][1] / best['disk'][1]:.2f}, metrics identical: {same}",
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--reference-images", type=int, default=100)
    parser.add_argument("--scaling", type=int, nargs="+", default=None,
                        help="numbers of images: score each and print the rates instead")
    parser.add_argument("--chunking", type=int, default=0,
                        help="number of images: chunked vs whole-file scoring, side by side")
    parser.add_argument("--whole-command", type=int, default=0,
                        help="number of images: evaluate.py's whole job in a fresh process, "
                             "the scores read whole vs left on disk, peak RSS side by side")
    args = parser.parse_args()
    if args.scaling:
        return scaling(args.scaling)
    if args.chunking:
        return chunking(args.chunking)
    if args.whole_command:
        return whole_command(args.whole_command)
    print(f"{'mode':8} {'read s':>7} {'score s':>8} {'images/s':>9} {'peak MiB':>9} "
          f"{'reference s (extrap.)':>22} {'speed-up':>9}")
    for mode, objects, pairs in (("predcls", 12, 115), ("sgdet", 20, 280)):
        data, t_read = written_and_read(args.images, objects, pairs, mode)
        t_score, peak = scored(data, mode)
        small = subset(data, args.reference_images)
        t = time.perf_counter()
        reference_metrics(small, mode)
        t_ref = (time.perf_counter() - t) * args.images / args.reference_images
        print(f"{mode:8} {t_read:7.2f} {t_score:8.2f} {args.images / t_score:9.0f} "
              f"{peak:9.0f} {t_ref:22.1f} {t_ref / t_score:8.0f}x")
    print(f"(reference timed on the first {args.reference_images} images and extrapolated "
          f"linearly to {args.images}; peak = tracemalloc peak during scoring)")


if __name__ == "__main__":
    main()
