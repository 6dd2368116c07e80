"""Batched maximum spanning trees (Prim) and their left-child right-sibling binary trees."""
from typing import Tuple

import torch
from torch import Tensor


@torch.no_grad()
def maximum_spanning_tree(scores: Tensor, mask: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Maximum spanning tree of each graph of a padded batch by Prim's algorithm.

    One step per tree edge, batched over graphs: each step attaches, in every graph, the
    outside node ``j`` with the highest score ``scores[i, j]`` from a tree node ``i`` under
    that node (ties: the node that joined first, then the lowest ``j``). The root of a graph
    is the node with the largest mean of its row, diagonal included (SGB's VCTree
    ``generate_forest``).

    Args:
        scores (Tensor): ``[B, T, T]`` pair scores, row = the tree node, column = the node
            it would take as a child.
        mask (Tensor): ``[B, T]`` bool, valid nodes (as from ``to_dense_batch``).

    Returns:
        ``(parent [B, T], step [B, T], root [B])``: the tree parent of each node (local
        index; ``-1`` for roots and padding), the step at which it joined (``0`` for the
        root, ``-1`` for padding) and the root (``-1`` for empty graphs).
    """
    B, T = mask.shape
    device = scores.device
    parent = torch.full((B, T), -1, dtype=torch.long, device=device)
    step = torch.full((B, T), -1, dtype=torch.long, device=device)
    if T == 0:
        return parent, step, torch.full((B,), -1, dtype=torch.long, device=device)
    neg = torch.finfo(scores.dtype).min
    pair_mask = mask[:, :, None] & mask[:, None, :]
    strength = scores.masked_fill(~pair_mask, 0.0).sum(dim=-1)
    root = strength.masked_fill(~mask, neg).argmax(dim=-1)
    has_nodes = mask.any(dim=-1)
    rows = torch.arange(B, device=device)

    in_tree = torch.zeros(B, T, dtype=torch.bool, device=device)
    in_tree[rows, root] = has_nodes
    step[rows[has_nodes], root[has_nodes]] = 0
    best = scores[rows, root]  # best score of a link from the tree to each node
    best_from = root[:, None].expand(B, T).clone()
    for t in range(1, T):
        cand = best.masked_fill(in_tree | ~mask, neg)
        _, j = cand.max(dim=-1)
        active = mask.sum(dim=-1) > t  # graphs that still have nodes outside the tree
        b, j = rows[active], j[active]
        parent[b, j] = best_from[b, j]
        step[b, j] = t
        in_tree[b, j] = True
        new = scores[b, j]  # [b, T] scores of links from the newly added node
        better = new > best[b]
        best[b] = torch.where(better, new, best[b])
        best_from[b] = torch.where(better, j[:, None], best_from[b])
    return parent, step, torch.where(has_nodes, root, torch.full_like(root, -1))


def binary_tree(parent: Tensor, step: Tensor) -> Tuple[Tensor, Tensor]:
    r"""Left-child right-sibling binary form of a forest, in flat node indexing.

    A node's left child is its first child (earliest ``step``), its right child is its next
    sibling; the children of each node keep the order in which they joined the tree.

    Args:
        parent (Tensor): ``[N]`` parent node index, ``-1`` for roots.
        step (Tensor): ``[N]`` sibling order key (e.g. Prim's step).

    Returns:
        ``(left [N], right [N])`` child indices, ``-1`` where absent.
    """
    left = torch.full_like(parent, -1)
    right = torch.full_like(parent, -1)
    child = (parent >= 0).nonzero().view(-1)
    if child.numel() == 0:
        return left, right
    child = child[torch.argsort(step[child], stable=True)]
    child = child[torch.argsort(parent[child], stable=True)]
    par = parent[child]
    first = torch.ones_like(par, dtype=torch.bool)
    first[1:] = par[1:] != par[:-1]
    left[par[first]] = child[first]
    has_next = ~first[1:]
    right[child[:-1][has_next]] = child[1:][has_next]
    return left, right
