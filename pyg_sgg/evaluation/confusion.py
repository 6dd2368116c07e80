"""Predicate confusion of a predictions file: for every GT relation whose pair was scored,
which foreground predicate the model ranked first (PredCls / SGCls, where the predicted
objects are the GT boxes), and its plot."""
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import numpy as np

from .recall_plot import save_figure

__all__ = ["predicate_confusion", "plot_predicate_confusion"]


def predicate_confusion(data: Dict[str, np.ndarray]) -> np.ndarray:
    """``[P + 1, P + 1]`` counts: row = GT predicate, column = the top foreground predicate
    of the scored pair ``(subject, object)`` (column 0: the pair was not scored). Vectorised
    over images: GT rows and scored pairs are joined on ``(image, subject, object)``.

    Args:
        data (dict): validated predictions (PredCls / SGCls: ``rel_pair_idx`` indexes the
            GT objects).
    """
    P1 = int(data["num_predicates"]) + 1
    gt_img = np.repeat(np.arange(data["gt_rel_ptr"].size - 1), np.diff(data["gt_rel_ptr"]))
    rel_img = np.repeat(np.arange(data["rel_ptr"].size - 1), np.diff(data["rel_ptr"]))
    n_obj = int(np.diff(data["gt_obj_ptr"]).max(initial=0)) + 1

    def key(img, s, o):
        return (img.astype(np.int64) * n_obj + s) * n_obj + o

    gt_key = key(gt_img, data["gt_rels"][:, 0], data["gt_rels"][:, 1])
    pr_key = key(rel_img, data["rel_pair_idx"][:, 0], data["rel_pair_idx"][:, 1])
    scores = data["rel_scores"]
    top = scores[:, 1:].argmax(1) + 1 if len(scores) else np.zeros(0, np.int64)
    order = np.argsort(pr_key, kind="stable")
    pos = np.searchsorted(pr_key[order], gt_key)
    found = pos < len(order)
    found[found] = pr_key[order][pos[found]] == gt_key[found]
    predicted = np.zeros(len(gt_key), np.int64)
    predicted[found] = top[order][pos[found]]
    out = np.zeros((P1, P1), np.int64)
    np.add.at(out, (data["gt_rels"][:, 2], predicted), 1)
    return out


def plot_predicate_confusion(confusion: np.ndarray, path: Union[str, Path],
                             names: Optional[Sequence[str]] = None) -> Path:
    """Row-normalised heat map of :func:`predicate_confusion` (foreground rows with GT
    relations; column "-" = pair not scored)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    P1 = confusion.shape[0]
    names = list(names) if names is not None else [str(k) for k in range(P1)]
    rows = [r for r in range(1, P1) if confusion[r].sum() > 0]
    m = confusion[rows].astype(np.float64)
    m /= m.sum(1, keepdims=True)
    cols = ["-"] + names[1:]
    fig, ax = plt.subplots(figsize=(max(5, 0.3 * P1 + 2), max(4, 0.3 * len(rows) + 2)))
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(P1))
    ax.set_xticklabels(cols, rotation=75, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([names[r] for r in rows], fontsize=7)
    ax.set_xlabel("top predicted predicate of the GT pair")
    ax.set_ylabel("ground-truth predicate")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    path = save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path
