"""Where a method's recall comes from: mean per-predicate R@K over the head predicates (the
``--head`` most frequent in training, HML's first stage) and over the tail (the rest), per
group of runs (mean ± std over the runs of a group).

Reads the run folders written by ``train.py`` (``test_results.json`` and the
``predictions_test.npz`` that carries the training triplet counts), e.g. those kept by
``benchmarks/compare_methods.py --runs-dir``::

    python benchmarks/head_tail_recall.py --runs-dir /tmp/runs \
        CE='motifs_predcls_ce_*' HML='motifs_predcls_hml_*'
"""
import argparse
import json
from pathlib import Path

import numpy as np

from pyg_sgg.evaluation import predicate_training_counts


def head_tail(run: Path, num_head: int, metric: str):
    per = json.loads((run / "test_results.json").read_text())["per_predicate"]
    counts = predicate_training_counts(np.load(run / "predictions_test.npz")) or {}
    order = sorted(per, key=lambda n: -counts.get(n, 0))
    head, tail = order[:num_head], order[num_head:]

    def mean(names):
        vals = [per[n][metric] for n in names if per[n].get(metric) is not None]
        return 100 * float(np.mean(vals)) if vals else float("nan")
    return mean(head), mean(tail), head


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("groups", nargs="+", metavar="NAME=GLOB",
                   help="a row: run folders (under --runs-dir) matching GLOB")
    p.add_argument("--runs-dir", default=".")
    p.add_argument("--head", type=int, default=10, help="number of head predicates")
    p.add_argument("--metric", default="R@50")
    args = p.parse_args()
    root = Path(args.runs_dir)
    print(f"| runs | n | head m{args.metric} | tail m{args.metric} |")
    print("|---|---|---|---|")
    head_names = None
    for group in args.groups:
        name, _, pattern = group.partition("=")
        runs = sorted(r for r in root.glob(pattern or name) if (r / "test_results.json").is_file())
        if not runs:
            raise SystemExit(f"{group}: no finished run under {root}")
        vals = [head_tail(r, args.head, args.metric) for r in runs]
        head_names = vals[0][2]
        h, t = np.array([v[0] for v in vals]), np.array([v[1] for v in vals])
        print(f"| {name} | {len(runs)} | {h.mean():.1f} ± {h.std():.1f} | "
              f"{t.mean():.1f} ± {t.std():.1f} |")
    print(f"\nhead = {', '.join(head_names)}")


if __name__ == "__main__":
    main()
