"""``evaluate.py --predictions FILE.npz``: score any codebase's predictions file."""
import argparse
import json
from pathlib import Path
from typing import Dict

from .interchange import read_predictions
from .recall_plot import plot_per_predicate_recall, predicate_training_counts
from .sgg_metrics import DEFAULT_KS, evaluate_predictions
from .tables import format_results, write_metrics_json


def _bins(text: str):
    out = []
    for part in text.split(","):
        lo, hi = part.split("-")
        out.append((int(lo), int(hi)))
    return tuple(out)


def add_predictions_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    g = parser.add_argument_group("scoring a predictions file")
    g.add_argument("--predictions", metavar="FILE.npz", help="predictions interchange file")
    g.add_argument("--sgb-results", metavar="eval_results.pytorch",
                   help="Scene-Graph-Benchmark's saved results file, scored the same way")
    g.add_argument("--mode", choices=("predcls", "sgcls", "sgdet"), default="predcls")
    g.add_argument("--ks", type=int, nargs="+", default=list(DEFAULT_KS))
    g.add_argument("--order", choices=("score", "file"), default="score",
                   help="rank pairs by triplet score (SGB) or keep the file's order")
    g.add_argument("--fewshot-bins", type=_bins, default=None,
                   help="training-count bins for fsR@K, e.g. 1-5,6-10,11-15")
    g.add_argument("--threads", type=int, default=None,
                   help="chunks of images scored side by side (default: the available CPUs; "
                        "the metrics do not depend on it)")
    g.add_argument("--out", metavar="metrics.json", help="write the metrics as JSON")
    g.add_argument("--plot", metavar="out.png", help="per-predicate recall plot")
    g.add_argument("--compare", metavar="[NAME=]metrics.json", nargs="*", default=[],
                   help="other runs' metrics.json (or a run's test_results.json) drawn beside "
                        "this one in --plot, labelled NAME")
    g.add_argument("--label", default=None, help="this run's label in --plot")
    return parser


def run_predictions(args) -> Dict[str, dict]:
    bad = [k for k in args.ks if k < 1]
    if bad:
        raise ValueError(f"argument --ks: every K must be >= 1, got {bad[0]}")
    if getattr(args, "threads", None) is not None and args.threads < 1:
        raise ValueError(f"argument --threads: must be >= 1, got {args.threads}")
    if getattr(args, "sgb_results", None):
        from .interchange import validate_predictions
        from .sgb_results import read_sgb_results
        data = validate_predictions(read_sgb_results(args.sgb_results), args.mode,
                                    source=args.sgb_results, require_content=True)
        args.predictions = args.sgb_results  # the table's title
    else:
        # Scoring goes a chunk of images at a time: leave the score matrix on disk unless
        # the plots need it whole.
        data = read_predictions(args.predictions, args.mode, scores_on_disk=not args.plot)
    kwargs = {"threads": getattr(args, "threads", None)}
    if args.fewshot_bins:
        kwargs["fewshot_bins"] = args.fewshot_bins
    results = evaluate_predictions(data, args.mode, args.ks, args.order, **kwargs)
    print(format_results(results, title=f"{args.predictions} ({args.mode})"))
    if args.out:
        write_metrics_json(results, args.out)
    if args.plot:
        runs = {args.label or str(args.predictions): results}
        for other in args.compare:
            name, _, path = other.rpartition("=")  # "NAME=file" or "file"
            with open(path) as f:
                runs[name or path] = json.load(f)
        plot_per_predicate_recall(runs, args.plot, metric=f"R@{max(args.ks)}",
                                  train_counts=predicate_training_counts(data))
        if args.mode != "sgdet":  # the predicted objects are the GT boxes: pairs align
            from .confusion import plot_predicate_confusion, predicate_confusion
            names = data.get("predicate_names")
            out = Path(args.plot)
            plot_predicate_confusion(predicate_confusion(data),
                                     out.with_name(out.stem + "_confusion" + out.suffix),
                                     None if names is None else [str(n) for n in names])
    return results
