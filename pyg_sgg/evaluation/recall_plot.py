"""Per-predicate recall sorted by training frequency (as the HML paper's Fig. 2–4)."""
import os
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np


def predicate_training_counts(data) -> Optional[Dict[str, int]]:
    """Training relations per predicate name from a predictions file's optional
    ``train_triplets`` (+ ``train_triplet_counts``) and ``predicate_names`` (``[P + 1]``,
    background first); ``None`` when it lacks them. ``data``: any mapping of arrays (the
    dict of :func:`~pyg_sgg.evaluation.read_predictions`, an ``np.load`` file)."""
    names, triplets = data.get("predicate_names"), data.get("train_triplets")
    if names is None or triplets is None:
        return None
    counts = data.get("train_triplet_counts")
    weights = None if counts is None else np.asarray(counts, dtype=np.float64)
    per = np.bincount(np.asarray(triplets)[:, 2].astype(np.int64), weights=weights,
                      minlength=len(names))
    return {str(names[k]): int(per[k]) for k in range(1, len(names))}


def plot_per_predicate_recall(runs: Dict[str, Dict[str, dict]], path: Union[str, Path],
                              metric: str = "R@100",
                              train_counts: Optional[Dict[str, int]] = None,
                              title: Optional[str] = None) -> Path:
    """Bar chart of ``metric`` per predicate for one or more runs, side by side.

    Args:
        runs (dict): run name → evaluation result (``{"per_predicate": …}``).
        path: output image (PNG).
        train_counts (dict, optional): predicate → training count; predicates are sorted
            by it (most frequent first); otherwise by the first run's GT counts.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = next(iter(runs.values()))
    names = list(first["per_predicate"])
    if train_counts is None:
        train_counts = first.get("counts", {}).get("gt_relations_per_predicate", {})
    names.sort(key=lambda n: -train_counts.get(n, 0))
    width = 0.8 / max(len(runs), 1)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(names)), 4))
    for i, (run, res) in enumerate(runs.items()):
        vals = [100 * (res["per_predicate"].get(n, {}).get(metric) or 0.0) for n in names]
        ax.bar(x + i * width, vals, width, label=run)
    ax.set_xticks(x + width * (len(runs) - 1) / 2)
    ax.set_xticklabels(names, rotation=75, ha="right", fontsize=8)
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(title or f"per-predicate {metric}, sorted by training frequency")
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    path = save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def save_figure(fig, path, dpi: int) -> Path:
    """``fig.savefig`` to a temporary sibling, then renamed over ``path`` (a killed run
    never leaves a truncated image)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
