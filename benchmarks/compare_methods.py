"""Train and test several (encoder, task, method, seed) runs through ``train.py`` and print
a results table in the style of Scene-Graph-Benchmark's METRICS.md (Markdown).

Every run reuses the cached SynthVG, detector and feature cache; each row's command is
printed under the table so that it can be reproduced alone.

    python benchmarks/compare_methods.py --encoders none motifs vctree imp transformer \
        --tasks predcls --methods ce --seeds 0 --max-iter 500
    python benchmarks/compare_methods.py --encoders motifs --methods ce ebm hml --seeds 0 1 2
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
COLUMNS = ("R@20", "R@50", "R@100", "mR@20", "mR@50", "mR@100", "ng-R@50", "zR@50",
           "Mean@50")


def run_command(encoder, task, method, seed, max_iter, out_dir):
    base = "motifs" if encoder == "none" else encoder
    cmd = [sys.executable, "train.py", "--method", method, "--config-file",
           f"detectron_configs/{base}/{task}_{method.split('+')[0]}.yaml",
           "SOLVER.MAX_ITER", str(max_iter), "SEED", str(seed), "OUTPUT_DIR", str(out_dir)]
    if encoder == "none":
        cmd += ["MODEL.SGG.CONTEXT", "none"]
    return cmd


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoders", nargs="+", default=["none", "motifs", "vctree", "imp",
                                                     "transformer"])
    p.add_argument("--tasks", nargs="+", default=["predcls"])
    p.add_argument("--methods", nargs="+", default=["ce"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--max-iter", type=int, default=500)
    p.add_argument("--out", help="also write the table to this Markdown file")
    args = p.parse_args()

    rows, commands = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            for encoder in args.encoders:
                for method in args.methods:
                    runs, seconds = [], []
                    for seed in args.seeds:
                        out = Path(tmp) / f"{encoder}_{task}_{method}_{seed}"
                        cmd = run_command(encoder, task, method, seed, args.max_iter, out)
                        t = time.time()
                        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
                        seconds.append(time.time() - t)
                        res = json.loads((out / "test_results.json").read_text())["metrics"]
                        runs.append(res)
                    cells = []
                    for col in COLUMNS:
                        vals = [100 * r[col] for r in runs if r.get(col) is not None]
                        if not vals:
                            cells.append("-")
                        elif len(vals) == 1:
                            cells.append(f"{vals[0]:.1f}")
                        else:
                            cells.append(f"{np.mean(vals):.1f} ± {np.std(vals):.1f}")
                    name = "freq. bias only" if encoder == "none" else encoder
                    rows.append(f"| {name} | {task} | {method} | " + " | ".join(cells)
                                + f" | {np.mean(seconds):.0f} |")
                    commands.append(" ".join(run_command(encoder, task, method, "SEED",
                                                         args.max_iter, "OUT")[1:]))
                    print(rows[-1], flush=True)
    header = ("| model | task | method | " + " | ".join(COLUMNS) + " | s/run |\n"
              + "|---" * (len(COLUMNS) + 4) + "|")
    seeds = ", ".join(map(str, args.seeds))
    table = "\n".join([header] + rows + ["", f"{args.max_iter} iterations, seeds {seeds}; "
                                         "commands:"] + [f"    python {c}" for c in commands])
    print()
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
