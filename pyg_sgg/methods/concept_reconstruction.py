"""HML's Concept Reconstruction (CR) loss: the child imitates the frozen parent's output
distribution on the same candidate pairs (METHODS.md §3.4)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["cr_loss", "misalign_background", "FORMS"]

FORMS = ("l2", "l1", "smooth_l1", "kl", "cosine")


def cr_loss(parent_logits: Tensor, child_logits: Tensor, form: str = "l2",
            code_form: bool = False) -> Tensor:
    """Distance of ``softmax(child [R, K])`` to ``softmax(parent [R, K])`` (parent detached).

    Per row: ``l2`` squared L2, ``l1`` L1, ``smooth_l1`` summed smooth-L1, ``kl``
    KL(parent || child), ``cosine`` 1 − cosine; then the mean over rows. ``code_form``:
    HML's public code, ``0.5 · L1Loss_mean · R`` (= 0.5 · Σ_rows mean_cols |Δ|). 0 rows → 0.
    """
    if form not in FORMS:
        raise ValueError(f"cr_loss: field 'form' must be one "
                         f"of {FORMS}, got {form!r}")
    if child_logits.size(0) == 0:
        return child_logits.sum() * 0.0
    child_logits = child_logits.float()
    parent_logits = parent_logits.detach().float()
    p, c = parent_logits.softmax(-1), child_logits.softmax(-1)
    if code_form:
        return 0.5 * (p - c).abs().mean() * child_logits.size(0)
    if form == "l2":
        d = (p - c).pow(2).sum(-1)
    elif form == "l1":
        d = (p - c).abs().sum(-1)
    elif form == "smooth_l1":
        d = F.smooth_l1_loss(c, p, reduction="none").sum(-1)
    elif form == "kl":
        d = (p * (parent_logits.log_softmax(-1) - child_logits.log_softmax(-1))).sum(-1)
    else:
        d = 1.0 - F.cosine_similarity(p, c, dim=-1)
    return d.mean()


def misalign_background(parent_logits: Tensor, edge_label: Tensor,
                        generator: Optional[torch.Generator] = None) -> Tensor:
    """Reproduce HML's pair misalignment: the background rows (``edge_label == 0``) of the
    parent's ``[E, K]`` logits in a random order, as if it had re-sampled its own pairs."""
    bg = (edge_label == 0).nonzero().view(-1)
    perm = torch.randperm(bg.numel(), generator=generator).to(bg.device)
    out = parent_logits.clone()
    out[bg] = parent_logits[bg[perm]]
    return out
