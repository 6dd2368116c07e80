"""Train and test several (encoder, task, method, seed) runs through ``train.py`` and print
a results table in the style of Scene-Graph-Benchmark's METRICS.md (Markdown): mean ± std
over the seeds of each row.

Every run reuses the cached SynthVG, detector and feature cache; each row's command is
printed under the table so that it can be reproduced alone. With ``--runs-dir`` the runs
(``test_results.json``, ``predictions_test.npz``) are kept and a finished run is not
trained again, so an interrupted comparison continues where it stopped.

    python benchmarks/compare_methods.py --encoders none motifs vctree imp transformer \
        --tasks predcls --methods ce --seeds 0 --max-iter 500
    python benchmarks/compare_methods.py --encoders motifs vctree --tasks predcls sgcls \
        --methods ce ebm --seeds 0 1 2 --max-iter 300 --columns R mR zR Mean
    python benchmarks/compare_methods.py --encoders motifs --methods hml --max-iter 100 \
        --variant l1 HML.CR.FORM l1 --variant kl HML.CR.FORM kl
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_COLUMNS = ("R@20", "R@50", "R@100", "mR@20", "mR@50", "mR@100", "ng-R@50", "zR@50",
                   "Mean@50")


def expand_columns(names, ks=(20, 50, 100)):
    """``["R", "ng-R@50"]`` -> ``["R@20", "R@50", "R@100", "ng-R@50"]`` (a mask AP column,
    ``mask-frozen/AP50``, stays as it is)."""
    out = []
    for name in names:
        out.extend([name] if "@" in name or "/" in name else [f"{name}@{k}" for k in ks])
    return out


def run_metrics(result: dict) -> dict:
    """A run's ``test_results.json`` as one flat dict of fractions: the metrics, and the
    COCO mask AP of a segmentation-grounded run as ``mask-frozen/AP``, ``mask-refined/AP50``
    ... (stored in percent)."""
    out = dict(result["metrics"])
    out.update({f"mask-{k}": v / 100 for k, v in result.get("mask_ap", {}).items()})
    return out


def run_command(encoder, task, method, seed, max_iter, out_dir, overrides=()):
    base = "motifs" if encoder == "none" else encoder
    leaf = f"detectron_configs/{base}/{task}_{method.split('+')[0]}.yaml"
    if not (ROOT / leaf).is_file():  # plug-in loss methods: the CE leaf, --method sets them
        leaf = f"detectron_configs/{base}/{task}_ce.yaml"
    cmd = [sys.executable, "train.py", "--method", method, "--config-file", leaf,
           "SOLVER.MAX_ITER", str(max_iter), "SEED", str(seed), "OUTPUT_DIR", str(out_dir)]
    if encoder == "none":
        cmd += ["MODEL.SGG.CONTEXT", "none"]
    return cmd + [str(v) for v in overrides]


def with_bins(columns, metrics):
    """Each column that ``metrics`` lacks but has binned, as its bins: ``fsR@50`` ->
    ``fsR@50[1-5]``, ``fsR@50[6-10]``, ... (the few-shot recall of each training-count bin)."""
    out = []
    for c in columns:
        bins = [k for k in metrics if k.startswith(c + "[")]
        out.extend(bins if c not in metrics and bins else [c])
    return out


def cell(values):
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{np.mean(values):.1f} ± {np.std(values):.1f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoders", nargs="+", default=["none", "motifs", "vctree", "imp",
                                                     "transformer"])
    p.add_argument("--tasks", nargs="+", default=["predcls"])
    p.add_argument("--methods", nargs="+", default=["ce"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--max-iter", type=int, default=500)
    p.add_argument("--columns", nargs="+", default=list(DEFAULT_COLUMNS),
                   help="metric names; a name without '@' expands to @20, @50, @100, a binned one "
                        "(fsR@50) to its bins; mask-frozen/AP, mask-refined/AP50 ...: the COCO "
                        "mask AP of segmentation-grounded runs")
    p.add_argument("--variant", nargs="+", action="append", default=[],
                   metavar=("NAME", "KEY VALUE"),
                   help="an extra row per (encoder, task, method) with these config "
                        "overrides; repeatable (without it: one row, no overrides)")
    p.add_argument("--runs-dir", help="keep the runs here and skip the finished ones")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep each finished run's *.pth files (by default only the metrics, "
                        "predictions and config stay: a grid of runs otherwise fills the disk)")
    p.add_argument("--out", help="also write the table to this Markdown file")
    p.add_argument("--json", help="also write every run's metrics to this JSON file")
    args = p.parse_args()
    columns = expand_columns(args.columns)
    variants = [(v[0], v[1:]) for v in args.variant] or [("", [])]
    for name, opts in variants:
        if len(opts) % 2:
            p.error(f"--variant {name}: KEY VALUE pairs expected, got {opts}")

    tmp = tempfile.TemporaryDirectory() if not args.runs_dir else None
    runs_dir = Path(args.runs_dir or tmp.name)
    rows, commands, record = [], [], {}
    for task in args.tasks:
        for encoder in args.encoders:
            for method in args.methods:
                for variant, opts in variants:
                    runs, seconds = [], []
                    for seed in args.seeds:
                        tag = "_".join(x for x in (encoder, task, method, variant, str(seed)) if x)
                        out = runs_dir / tag
                        result = out / "test_results.json"
                        if not result.is_file():
                            cmd = run_command(encoder, task, method, seed, args.max_iter, out,
                                              opts)
                            t = time.time()
                            done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.PIPE, text=True)
                            if done.returncode:
                                sys.exit(f"run {tag} failed:\n{done.stderr[-3000:]}")
                            (out / "seconds.txt").write_text(f"{time.time() - t:.1f}\n")
                            if not args.keep_checkpoints:
                                for checkpoint in out.glob("*.pth"):
                                    checkpoint.unlink()
                        metrics = run_metrics(json.loads(result.read_text()))
                        seconds_file = out / "seconds.txt"
                        if seconds_file.is_file():
                            seconds.append(float(seconds_file.read_text()))
                        runs.append(metrics)
                        columns = with_bins(columns, metrics)
                        record[tag] = metrics
                    cells = [cell([100 * r[c] for r in runs if r.get(c) is not None])
                             for c in columns]
                    name = "freq. bias only" if encoder == "none" else encoder
                    label = f"{method} ({variant})" if variant else method
                    secs = f"{np.mean(seconds):.0f}" if seconds else "-"
                    rows.append(f"| {name} | {task} | {label} | " + " | ".join(cells)
                                + f" | {secs} |")
                    commands.append(" ".join(run_command(encoder, task, method, "SEED",
                                                         args.max_iter, "OUT", opts)[1:]))
                    print(rows[-1], flush=True)
    header = ("| model | task | method | " + " | ".join(columns) + " | s/run |\n"
              + "|---" * (len(columns) + 4) + "|")
    seeds = ", ".join(map(str, args.seeds))
    table = "\n".join([header] + rows + ["", f"{args.max_iter} iterations, seeds {seeds} "
                                         "(mean ± std); commands:"]
                      + [f"    python {c}" for c in commands])
    print()
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
