"""CMAT's counterfactual critic (Chen et al., "Counterfactual Critic Multi-Agent Training for
Scene Graph Generation", ICCV'19) as batched tensor operators.

Objects are agents that pick labels ``a``; the reward of an image is the triplet Recall@K of
its generated graph: a ground-truth triplet ``(s, o, r)`` is recalled when one of the image's
top-``K`` scored pairs predicts ``r`` for boxes that match ``s`` and ``o`` (IoU >= 0.5, SGB's
``+1`` boxes, as :mod:`pyg_sgg.evaluation`) and the agents of those boxes picked the labels
of ``s`` and ``o``. The pairs, their predicates and ranking are those of the forward pass;
only the labels vary. Agent ``i``'s advantage is

    A_i = R(a) - sum_v pi_i(v) R(a_{-i}, v)

over a set of counterfactual labels ``v`` (all ``C + 1``: exact; or the authors'
approximation). Everything a label can change is precomputed once as label-independent
*candidates* (a GT triplet with a top-K pair that matches it up to the labels), so each
counterfactual costs a few scatter ops over the candidates that involve the agent.
"""
from typing import NamedTuple

import torch
from torch import Tensor

from ..nn.box_geometry import box_iou

__all__ = ["TripletCandidates", "triplet_candidates", "triplet_recall",
           "counterfactual_recall", "counterfactual_labels", "cmat_advantages"]


class TripletCandidates(NamedTuple):
    """``L`` (GT triplet, predicted pair) matches up to the labels, and the GT counts.

    ``gt [L]`` GT triplet index, ``sub [L]`` / ``obj [L]`` the pair's nodes, ``need_sub [L]``
    / ``need_obj [L]`` the GT labels those nodes must take, ``gt_image [M]`` image of each GT
    triplet, ``num_gt [B]`` GT triplets per image.
    """
    gt: Tensor
    sub: Tensor
    obj: Tensor
    need_sub: Tensor
    need_obj: Tensor
    gt_image: Tensor
    num_gt: Tensor


def _rank_within(image: Tensor, score: Tensor, num_images: int) -> Tensor:
    """``[E]`` 0-based rank of each score within its image, highest first (ties: index)."""
    order = torch.argsort(score, descending=True, stable=True)
    order = order[torch.argsort(image[order], stable=True)]
    counts = torch.bincount(image, minlength=num_images)
    start = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=order.device) - start[image[order]]
    return rank


def triplet_candidates(edge_index: Tensor, rel_pred: Tensor, pair_score: Tensor,
                       node_image: Tensor, boxes: Tensor, gt_boxes: Tensor, gt_labels: Tensor,
                       gt_triplets: Tensor, gt_image: Tensor, num_images: int,
                       top_k: int = 50, iou_threshold: float = 0.5) -> TripletCandidates:
    """Match the top-``K`` predicted pairs of each image with its GT triplets.

    Args:
        edge_index (Tensor): ``[2, E]`` scored (subject, object) node pairs.
        rel_pred (Tensor): ``[E]`` predicted predicate of each pair (graph constraint).
        pair_score (Tensor): ``[E]`` ranking score of each pair.
        node_image (Tensor): ``[N]`` image of each node; ``boxes [N, 4]`` its box.
        gt_boxes (Tensor): ``[G, 4]`` GT boxes; ``gt_labels [G]`` their labels.
        gt_triplets (Tensor): ``[M, 3]`` (subject, object, predicate), GT box indices global
            to the batch; ``gt_image [M]`` image of each.
        num_images (int): ``B``.
        top_k (int): ``K`` of the reward's Recall@K. (default: ``50``)
        iou_threshold (float): box match. (default: ``0.5``)
    """
    device = boxes.device
    gt_image = gt_image.long()
    num_gt = torch.bincount(gt_image, minlength=num_images)
    pair_image = node_image[edge_index[0]].long()
    top = (_rank_within(pair_image, pair_score, num_images) < top_k).nonzero().view(-1)
    top = top[torch.argsort(pair_image[top], stable=True)]
    gt_order = torch.argsort(gt_image, stable=True)
    counts_top = torch.bincount(pair_image[top], minlength=num_images)
    # every (top pair, GT triplet) of the same image, A-major
    sizes = counts_top * num_gt
    total = int(sizes.sum())
    empty = torch.zeros(0, dtype=torch.long, device=device)
    if total == 0:
        return TripletCandidates(empty, empty, empty, empty, empty, gt_image, num_gt)
    graph = torch.repeat_interleave(torch.arange(num_images, device=device), sizes)
    local = torch.arange(total, device=device) - (torch.cumsum(sizes, 0) - sizes)[graph]
    ptr_top = torch.cumsum(counts_top, 0) - counts_top
    ptr_gt = torch.cumsum(num_gt, 0) - num_gt
    e = top[ptr_top[graph] + torch.div(local, num_gt[graph], rounding_mode="floor")]
    g = gt_order[ptr_gt[graph] + local % num_gt[graph]]
    tri = gt_triplets.long()
    s, o = edge_index[0, e], edge_index[1, e]
    gs, go = tri[g, 0], tri[g, 1]
    ok = rel_pred[e].long() == tri[g, 2]
    ok &= box_iou(boxes[s].float(), gt_boxes[gs].float(), plus_one=True) >= iou_threshold
    ok &= box_iou(boxes[o].float(), gt_boxes[go].float(), plus_one=True) >= iou_threshold
    return TripletCandidates(g[ok], s[ok], o[ok], gt_labels[gs[ok]].long(),
                             gt_labels[go[ok]].long(), gt_image, num_gt)


def triplet_recall(labels: Tensor, cand: TripletCandidates) -> Tensor:
    """``[B]`` Recall@K of each image for node labels ``labels [N]`` (0 for an image
    without GT triplets)."""
    M = cand.gt_image.numel()
    ok = (labels[cand.sub] == cand.need_sub) & (labels[cand.obj] == cand.need_obj)
    hit = torch.zeros(M, dtype=torch.bool, device=labels.device)
    hit[cand.gt[ok]] = True
    hits = torch.bincount(cand.gt_image[hit], minlength=cand.num_gt.numel())
    return hits.float() / cand.num_gt.clamp(min=1).float()


def counterfactual_recall(labels: Tensor, alternatives: Tensor, node_image: Tensor,
                          cand: TripletCandidates) -> Tensor:
    """``[N, S]`` reward of each agent's image when that agent alone takes label
    ``alternatives[i, v]`` (the others keep ``labels``).

    A GT triplet of agent ``i``'s image changes only through the candidates that involve
    ``i``; it stays recalled through any other candidate. Vectorised over (candidate,
    involved agent, alternative).
    """
    N, S = alternatives.shape
    device = labels.device
    base = triplet_recall(labels, cand)[node_image.long()]                     # [N]
    if cand.gt.numel() == 0:
        return base[:, None].expand(N, S).clone()
    ok = (labels[cand.sub] == cand.need_sub) & (labels[cand.obj] == cand.need_obj)
    M = cand.gt_image.numel()
    hit = torch.zeros(M, dtype=torch.long, device=device).index_add_(0, cand.gt, ok.long())
    # (candidate, involved agent) entries; a self-pair counts once
    both = cand.sub != cand.obj
    ent_c = torch.cat([torch.arange(cand.gt.numel(), device=device),
                       both.nonzero().view(-1)])
    agent = torch.cat([cand.sub, cand.obj[both]])
    # (GT triplet, agent) keys: triplets the agent can change
    key = cand.gt[ent_c] * N + agent
    keys, inv = torch.unique(key, return_inverse=True)
    K = keys.numel()
    key_gt = torch.div(keys, N, rounding_mode="floor")
    key_agent = keys % N
    # recalled through candidates that do not involve the agent
    involved_ok = torch.zeros(K, dtype=torch.long, device=device).index_add_(
        0, inv, ok[ent_c].long())
    # ok[c] counted once per candidate even when both its nodes are the agent: a self-pair
    # has one entry, so the subtraction below is exact
    others = (hit[key_gt] - involved_ok) > 0                                    # [K]
    c = ent_c
    alt = alternatives[agent]                                                   # [Ec, S]
    sub_label = torch.where((cand.sub[c] == agent)[:, None], alt, labels[cand.sub[c]][:, None])
    obj_label = torch.where((cand.obj[c] == agent)[:, None], alt, labels[cand.obj[c]][:, None])
    new_ok = ((sub_label == cand.need_sub[c][:, None])
              & (obj_label == cand.need_obj[c][:, None])).long()
    any_new = torch.zeros(K, S, dtype=torch.long, device=device).index_add_(0, inv, new_ok) > 0
    new_hit = others[:, None] | any_new                                         # [K, S]
    delta = new_hit.float() - (hit[key_gt] > 0).float()[:, None]
    per_gt = delta / cand.num_gt[cand.gt_image[key_gt]].clamp(min=1).float()[:, None]
    change = torch.zeros(N, S, device=device).index_add_(0, key_agent, per_gt)
    return base[:, None] + change


def counterfactual_labels(probs: Tensor, chosen: Tensor, exact: bool = False) -> Tensor:
    """``[N, S]`` counterfactual labels of each agent: all ``C + 1`` (``exact``), or the
    authors' approximation: the chosen label, the two most probable others and background
    (``S = 4``; repeats, when the chosen label is background, weigh once: see
    :func:`cmat_advantages`)."""
    N, C1 = probs.shape
    if exact:
        return torch.arange(C1, device=probs.device).expand(N, C1)
    masked = probs.detach().clone()
    masked[torch.arange(N, device=probs.device), chosen] = -1.0
    masked[:, 0] = -1.0
    top2 = masked.topk(min(2, C1 - 1), dim=-1).indices
    return torch.cat([chosen.view(-1, 1), top2, torch.zeros_like(chosen).view(-1, 1)], dim=1)


def cmat_advantages(probs: Tensor, labels: Tensor, node_image: Tensor,
                    cand: TripletCandidates, exact: bool = False) -> Tensor:
    """``[N]`` counterfactual advantages ``R(a) - sum_v pi~(v) R(a_{-i}, v)``, with ``pi~``
    the agent's probabilities renormalised over its distinct counterfactual labels (exact:
    the full distribution)."""
    alternatives = counterfactual_labels(probs, labels, exact)
    rewards = counterfactual_recall(labels, alternatives, node_image, cand)      # [N, S]
    weight = probs.detach().gather(1, alternatives)
    S = alternatives.size(1)
    if not exact and S > 1:  # a label listed twice counts once
        earlier = alternatives[:, :, None] == alternatives[:, None, :]
        earlier = torch.tril(earlier, diagonal=-1).any(-1)
        weight = weight.masked_fill(earlier, 0.0)
    weight = weight / weight.sum(-1, keepdim=True).clamp(min=1e-12)
    baseline = (weight * rewards).sum(-1)
    return triplet_recall(labels, cand)[node_image.long()] - baseline
