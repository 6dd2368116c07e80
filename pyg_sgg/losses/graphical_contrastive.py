"""Graphical contrastive losses (Zhang et al., "Graphical Contrastive Losses for Scene Graph
Parsing", CVPR'19 - RelDN) as scatter operators over a batch of scored pairs.

A pair's relatedness score is ``s = 1 - p(background)``. Every entity is an anchor twice,
once as the subject and once as the object of its candidate pairs; an anchor with at least
one related (positive) and one unrelated (negative) pair gives margin terms
``max(0, margin - (s_pos - s_neg))`` between

* **agnostic**: its least related positive and its most related negative;
* **entity-class aware**: per class ``c`` of the other entity among its positives, the least
  related positive with other-entity class ``c`` and the most related negative whose other
  entity also has class ``c``;
* **predicate-class aware**: per ground-truth predicate ``r`` among its positives, the least
  related positive of ``r`` and the most related negative whose top foreground prediction
  is ``r``.

A class-aware group without a matching negative takes the anchor's agnostic negative
(RelDN's ``USE_SPO_AGNOSTIC_COMPENSATION``, on in its VG configs) or is dropped. Each loss is
the mean over its groups plus one dummy group ``(1, 0)`` whose term is 0, as RelDN's
``margin_ranking_loss`` over a batch seeded with that dummy: a batch without groups gives a
graph-connected 0.
"""
from typing import Dict, Optional

import torch
from torch import Tensor

__all__ = ["graphical_contrastive_losses", "relatedness"]

_KINDS = ("agnostic", "entity", "predicate")


def relatedness(rel_logits: Tensor) -> Tensor:
    """``1 - softmax(rel_logits)[:, 0]`` in float32: ``[E, P + 1] -> [E]``."""
    return 1.0 - torch.softmax(rel_logits.float(), dim=-1)[:, 0]


def _extreme(values: Tensor, index: Tensor, size: int, reduce: str) -> Tensor:
    """Per-index min (``"amin"``) or max (``"amax"``) of ``values``; empty slots are +-inf."""
    fill = float("inf") if reduce == "amin" else float("-inf")
    return values.new_full((size,), fill).scatter_reduce(0, index, values, reduce=reduce)


def _hinge_mean(pos: Tensor, neg: Tensor, margin: float, like: Tensor) -> Tensor:
    """``sum(max(0, margin - (pos - neg))) / (len + 1)``: the mean with RelDN's dummy group."""
    if pos.numel() == 0:
        return like.sum() * 0.0
    return torch.relu(margin - (pos - neg)).sum() / (pos.numel() + 1)


def _grouped(score: Tensor, anchor: Tensor, pos: Tensor, pos_group: Tensor,
             neg_group: Tensor, num_groups: int, anchor_neg: Tensor, fallback: bool,
             margin: float) -> Tensor:
    """Class-aware terms: groups are ``(anchor, group)`` keys; positives keyed by
    ``pos_group``, negatives by ``neg_group`` (both ``[E]``, read where ``pos`` / ``~pos``)."""
    neg = ~pos
    key = anchor * num_groups + torch.where(pos, pos_group, neg_group)
    keys, inv = torch.unique(key, return_inverse=True)
    size = keys.numel()
    min_pos = _extreme(score[pos], inv[pos], size, "amin")
    max_neg = _extreme(score[neg], inv[neg], size, "amax")
    has_pos = torch.bincount(inv[pos], minlength=size) > 0
    has_neg = torch.bincount(inv[neg], minlength=size) > 0
    use = has_pos & (has_neg | fallback)
    group_anchor = torch.div(keys, num_groups, rounding_mode="floor")
    neg_value = torch.where(has_neg, max_neg, anchor_neg[group_anchor])
    return _hinge_mean(min_pos[use], neg_value[use], margin, score)


def graphical_contrastive_losses(rel_logits: Tensor, edge_index: Tensor, edge_label: Tensor,
                                 node_label: Tensor, num_nodes: Optional[int] = None,
                                 margin: float = 0.2, fallback: bool = True
                                 ) -> Dict[str, Tensor]:
    """RelDN's three contrastive losses, each for the subject and the object side.

    Args:
        rel_logits (Tensor): ``[E, P + 1]`` pair logits (column 0 background).
        edge_index (Tensor): ``[2, E]`` (subject, object) node of each pair.
        edge_label (Tensor): ``[E]`` ground-truth predicate, 0 = unrelated.
        node_label (Tensor): ``[N]`` entity classes (GT, or matched GT in SGDet; 0 =
            background).
        num_nodes (int, optional): ``N``. (default: ``node_label.numel()``)
        margin (float): the ranking margin (RelDN: 0.2 for all three). (default: ``0.2``)
        fallback (bool): a class-aware group without a matching negative uses the anchor's
            agnostic negative instead of being dropped. (default: ``True``)

    Returns:
        dict: scalars ``{agnostic, entity, predicate}_{subject, object}``.
    """
    num_nodes = node_label.numel() if num_nodes is None else num_nodes
    edge_index, edge_label = edge_index.long(), edge_label.long()
    node_label = node_label.long()
    score = relatedness(rel_logits)
    pos = edge_label > 0
    num_predicates = rel_logits.size(-1)
    top_fg = rel_logits.detach()[:, 1:].argmax(dim=-1) + 1  # predicted foreground predicate
    num_classes = int(node_label.max()) + 1 if node_label.numel() else 1
    out = {}
    for side, name in ((0, "subject"), (1, "object")):
        anchor, other = edge_index[side], edge_index[1 - side]
        min_pos = _extreme(score[pos], anchor[pos], num_nodes, "amin")
        max_neg = _extreme(score[~pos], anchor[~pos], num_nodes, "amax")
        has_pos = torch.bincount(anchor[pos], minlength=num_nodes) > 0
        has_neg = torch.bincount(anchor[~pos], minlength=num_nodes) > 0
        valid = has_pos & has_neg
        out[f"agnostic_{name}"] = _hinge_mean(min_pos[valid], max_neg[valid], margin, score)
        keep = valid[anchor]  # pairs of anchors that have both kinds
        s, a, p = score[keep], anchor[keep], pos[keep]
        other_class = node_label[other[keep]]
        out[f"entity_{name}"] = _grouped(s, a, p, other_class, other_class, num_classes,
                                         max_neg, fallback, margin)
        out[f"predicate_{name}"] = _grouped(s, a, p, edge_label[keep], top_fg[keep],
                                            num_predicates, max_neg, fallback, margin)
    return out
