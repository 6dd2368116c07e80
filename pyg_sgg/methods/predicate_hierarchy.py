"""HML's coarse-to-fine predicate stages, computed from training statistics.

Stage ``s`` holds the background and a growing set of foreground predicates; the last
stage holds all of them. HML's code hard-codes the top-10 most frequent VG150 predicates
for stage 0 (METHODS.md §3.2); here the split is derived from ``predicate_counts``.
"""
from typing import List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["predicate_stages"]


def _as_np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def predicate_stages(predicate_counts, sizes: Sequence[int] = (10,), split: str = "frequency",
                     pred_dist=None, num_clusters: Optional[int] = None) -> List[Tensor]:
    """Predicate classes of each stage (sorted, background 0 included).

    Args:
        predicate_counts (array [P + 1]): training counts (column 0 background, ignored).
        sizes (list of int): cumulative numbers of foreground predicates of every stage
            but the last (which is all ``P``); e.g. ``[10]`` → 2 stages, ``[10, 20]`` → 3.
            (default: ``[10]``)
        split (str): ``"frequency"`` (the most frequent first) or ``"cluster"``
            (agglomerative clustering of the predicates' frequency-bias columns
            ``pred_dist[:, :, p]``; whole clusters, most frequent cluster first, are added
            until a stage reaches its size). (default: ``"frequency"``)
        pred_dist (array [C + 1, C + 1, P + 1], optional): needed for ``"cluster"``.
        num_clusters (int, optional): clusters for ``"cluster"``. (default: ``len(sizes) + 1``)

    Returns:
        list of LongTensor: ``len(sizes) + 1`` nested class sets.
    """
    counts = _as_np(predicate_counts).astype(np.float64).reshape(-1)
    num_pred = counts.size - 1
    if num_pred < 1:
        raise ValueError("predicate_stages: field 'predicate_counts' "
                         "needs at least one foreground predicate")
    sizes = [int(s) for s in sizes]
    if any(b <= a for a, b in zip(sizes, sizes[1:])) or any(s < 1 or s > num_pred
                                                              for s in sizes):
        raise ValueError(f"predicate_stages: field 'sizes' {sizes} must "
                         f"be increasing cumulative sizes in 1..{num_pred}")
    fg = counts[1:]
    # stable: ties broken by class index
    order = np.argsort(-fg, kind="stable") + 1
    if split == "cluster":
        if pred_dist is None:
            raise ValueError("predicate_stages: split 'cluster' needs "
                             "field 'pred_dist'")
        from scipy.cluster.hierarchy import fcluster, linkage
        pd = _as_np(pred_dist).astype(np.float64)
        feats = pd.reshape(-1, pd.shape[-1]).T[1:]  # [P, (C+1)^2]
        feats = np.nan_to_num(feats, neginf=-50.0, posinf=50.0)
        k = num_clusters or len(sizes) + 1
        ids = fcluster(linkage(feats, "ward"), t=min(k, num_pred), criterion="maxclust") \
            if num_pred > 1 else np.ones(1, dtype=int)
        # clusters ordered by total frequency, members by frequency inside a cluster
        tot = {c: fg[ids == c].sum() for c in np.unique(ids)}
        rank = {c: r for r, c in enumerate(sorted(tot, key=lambda c: (-tot[c], c)))}
        order = np.array(sorted(order, key=lambda p: rank[ids[p - 1]]))
        cluster_of = np.array([rank[ids[p - 1]] for p in order])
        # round each size up to a cluster boundary
        ends = np.flatnonzero(np.r_[cluster_of[1:] != cluster_of[:-1], True]) + 1
        sizes = sorted({int(ends[np.searchsorted(ends, s)]) for s in sizes} - {num_pred})
    stages = [torch.from_numpy(np.sort(np.r_[0, order[:s]])).long() for s in sizes]
    stages.append(torch.arange(num_pred + 1))
    return stages
