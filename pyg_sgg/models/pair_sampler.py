"""Training-time sampling of candidate pairs per image (SGB: 25 % positives of 256)."""
from typing import Optional

import torch
from torch import Tensor


def _rank_in_group(group: Tensor, key: Tensor) -> Tensor:
    """Rank of each element by ``key`` among the elements of its ``group`` (0-based)."""
    # sort by key, then stably by group: groups contiguous, keys ascending inside
    order = torch.argsort(key)
    order = order[torch.argsort(group[order], stable=True)]
    sorted_group = group[order]
    n = group.numel()
    pos = torch.arange(n, device=group.device)
    is_start = torch.ones(n, dtype=torch.bool, device=group.device)
    is_start[1:] = sorted_group[1:] != sorted_group[:-1]
    start = torch.cummax(torch.where(is_start, pos, torch.zeros_like(pos)), dim=0).values
    rank = torch.empty_like(pos)
    rank[order] = pos - start
    return rank


def sample_pairs(edge_graph: Tensor, edge_label: Tensor, num_graphs: int,
                 num_pairs: int = 256, positive_fraction: float = 0.25,
                 generator: Optional[torch.Generator] = None) -> Tensor:
    """Choose at most ``num_pairs`` candidate pairs per image, at most
    ``round(num_pairs * positive_fraction)`` of them positive (``edge_label > 0``), and
    fill the rest with background pairs, uniformly at random. Vectorised over images.

    Args:
        edge_graph (Tensor): ``[E]`` image of each candidate pair.
        edge_label (Tensor): ``[E]`` predicate targets (0 = background).
        num_graphs (int): number of images ``B``.
        num_pairs (int): pairs per image; ``<= 0`` keeps all. (default: ``256``)
        positive_fraction (float): cap on the positive share. (default: ``0.25``)
        generator (torch.Generator, optional): random source (CPU).

    Returns:
        Tensor: ``[E]`` bool mask of the kept pairs.
    """
    num_edges = edge_label.numel()
    if num_pairs <= 0 or num_edges == 0:
        return torch.ones(num_edges, dtype=torch.bool, device=edge_label.device)
    device = edge_label.device
    key = torch.rand(num_edges, generator=generator).to(device)
    positive = edge_label > 0
    group = edge_graph * 2 + positive.long()
    rank = _rank_in_group(group, key)
    num_pos = torch.zeros(num_graphs, dtype=torch.long, device=device)
    num_pos.scatter_add_(0, edge_graph, positive.long())
    max_pos = int(round(num_pairs * positive_fraction))
    kept_pos = num_pos.clamp(max=max_pos)
    neg_quota = num_pairs - kept_pos
    quota = torch.where(positive, kept_pos[edge_graph], neg_quota[edge_graph])
    return rank < quota


def select_edges(batch, mask: Tensor):
    """Keep the candidate pairs of ``batch`` selected by ``mask`` (``[E]`` bool): filters
    ``edge_index`` and every per-edge attribute aligned with it (``edge_attr``,
    ``edge_label``: every tensor attribute named ``edge_*`` with ``E`` rows). Returns the
    same ``batch``, modified in place."""
    num_edges = batch.edge_index.size(1)
    changed = ["edge_index"]
    for key in list(batch.keys()):
        value = batch[key]
        if key.startswith("edge_") and key != "edge_index" and torch.is_tensor(value) \
                and value.dim() >= 1 and value.size(0) == num_edges:
            batch[key] = value[mask]
            changed.append(key)
    slices = getattr(batch, "_slice_dict", None)
    if slices is not None and "edge_index" in slices and hasattr(batch, "batch"):
        # keep Batch.get_example / to_data_list working on the filtered edges
        graph = batch.batch[batch.edge_index[0]]
        kept = torch.zeros(batch.num_graphs, dtype=torch.long, device=graph.device)
        kept.scatter_add_(0, graph[mask], torch.ones_like(graph[mask]))
        ptr = torch.cat([kept.new_zeros(1), kept.cumsum(0)]).cpu()
        for key in changed:
            if key in slices:
                slices[key] = ptr
    batch.edge_index = batch.edge_index[:, mask]
    return batch
