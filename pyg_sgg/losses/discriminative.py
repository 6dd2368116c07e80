"""The discriminative loss (De Brabandere, Neven & Van Gool, "Semantic Instance Segmentation
with a Discriminative Loss Function", 2017) as a scatter operator over cluster ids.

For the embeddings ``x_i`` of one graph (an image, or the whole batch) with clusters
``c = 1..C`` of means ``mu_c``:

* ``L_var = (1/C) sum_c (1/N_c) sum_{i in c} [||mu_c - x_i|| - delta_v]_+^2`` (pull);
* ``L_dist = 1/(C(C-1)) sum_{a != b} [2 delta_d - ||mu_a - mu_b||]_+^2`` (push);
* ``L_reg = (1/C) sum_c ||mu_c||``;

``L = alpha L_var + beta L_dist + gamma L_reg``, averaged over the graphs that have a
cluster (``L_dist`` is 0 for a graph with one cluster).
"""
from typing import Dict, Optional

import torch
from torch import Tensor
from torch_geometric.utils import scatter

__all__ = ["discriminative_loss"]


def discriminative_loss(x: Tensor, cluster: Tensor, batch: Optional[Tensor] = None,
                        delta_v: float = 0.5, delta_d: float = 1.5, alpha: float = 1.0,
                        beta: float = 1.0, gamma: float = 0.001) -> Dict[str, Tensor]:
    """The three terms and their weighted sum.

    Args:
        x (Tensor): ``[N, D]`` embeddings.
        cluster (Tensor): ``[N]`` cluster id of each row (any integers; negative = ignored,
            e.g. background pixels).
        batch (Tensor, optional): ``[N]`` graph of each row; clusters are per graph.
            (default: one graph)
        delta_v, delta_d (float): pull and push margins (the paper: 0.5, 1.5).
        alpha, beta, gamma (float): weights of the terms (the paper: 1, 1, 0.001).

    Returns:
        dict: scalars ``var``, ``dist``, ``reg`` and ``loss``.
    """
    x = x.float()
    cluster = cluster.long().view(-1)
    batch = cluster.new_zeros(cluster.numel()) if batch is None else batch.long().view(-1)
    keep = cluster >= 0
    x, cluster, batch = x[keep], cluster[keep], batch[keep]
    zero = x.sum() * 0.0
    if x.size(0) == 0:
        return {"var": zero, "dist": zero, "reg": zero, "loss": zero}
    # one id per (graph, cluster); clusters numbered in graph order
    stride = int(cluster.max()) + 1
    key = batch * stride + cluster
    keys, inv = torch.unique(key, return_inverse=True)
    K = keys.numel()
    mean = scatter(x, inv, dim=0, dim_size=K, reduce="mean")                  # [K, D]
    count = torch.bincount(inv, minlength=K).to(x.dtype)
    graph_of = torch.div(keys, stride, rounding_mode="floor")
    graphs, graph_inv = torch.unique(graph_of, return_inverse=True)
    G = graphs.numel()
    clusters_per_graph = torch.bincount(graph_inv, minlength=G).to(x.dtype)   # [G]

    pull = torch.relu((x - mean[inv]).norm(dim=-1) - delta_v) ** 2            # [N]
    var_c = scatter(pull, inv, dim=0, dim_size=K, reduce="sum") / count        # [K]
    var = scatter(var_c, graph_inv, dim=0, dim_size=G, reduce="sum") / clusters_per_graph
    reg = scatter(mean.norm(dim=-1), graph_inv, dim=0, dim_size=G,
                  reduce="sum") / clusters_per_graph

    # pairs of distinct clusters of the same graph (dense per graph: C is small)
    order = torch.argsort(graph_inv, stable=True)
    offsets = torch.cumsum(clusters_per_graph.long(), 0) - clusters_per_graph.long()
    slot = torch.empty_like(graph_inv)
    slot[order] = torch.arange(K, device=x.device) - offsets[graph_inv[order]]
    C = int(clusters_per_graph.max())
    dense = x.new_zeros(G, C, x.size(1))
    dense[graph_inv, slot] = mean
    present = torch.zeros(G, C, dtype=torch.bool, device=x.device)
    present[graph_inv, slot] = True
    valid = present[:, :, None] & present[:, None, :]
    valid &= ~torch.eye(C, dtype=torch.bool, device=x.device)
    dist_ab = torch.cdist(dense, dense, compute_mode="donot_use_mm_for_euclid_dist")
    push = torch.where(valid, torch.relu(2 * delta_d - dist_ab) ** 2, torch.zeros_like(dist_ab))
    pairs = clusters_per_graph * (clusters_per_graph - 1)
    dist = torch.where(pairs > 0, push.sum((1, 2)) / pairs.clamp(min=1), torch.zeros_like(pairs))

    var, dist, reg = var.mean(), dist.mean(), reg.mean()
    return {"var": var, "dist": dist, "reg": reg,
            "loss": alpha * var + beta * dist + gamma * reg}
