"""The Baikal loss and its CMA-ES-tuned form BaikalCMA (Gonzalez & Miikkulainen, "Improved
Training Speed, Accuracy, and Data Utilization Through Loss Function Optimization", GLO,
2019), as drop-in replacements for the cross-entropy over ``[rows, classes]`` logits.

For softmax probabilities ``y`` over ``n`` classes and the one-hot target ``x``:

* Baikal: ``L = -(1/n) sum_i [log y_i - x_i / y_i]``;
* BaikalCMA: ``L = -(1/n) sum_i c0 [c1 log(c2 y_i) - c3 (c4 x_i) / (c5 y_i)]`` with
  ``c = (2.7279, 0.9863, 1.5352, -1.1135, 1.3716, -0.8411)`` (the paper's values).

Each row's loss is averaged over the rows. ``y`` is clamped to ``>= eps`` (``x / y``
explodes as ``y -> 0``) and ``log y`` is read from ``log_softmax`` clamped at ``log eps``.
"""
import math
from typing import Optional

import torch
from torch import Tensor

__all__ = ["baikal_loss", "baikal_row_losses", "BAIKAL_CMA_COEFFICIENTS"]

#: ``(c0, ..., c5)`` of BaikalCMA, as published.
BAIKAL_CMA_COEFFICIENTS = (2.7279, 0.9863, 1.5352, -1.1135, 1.3716, -0.8411)


def baikal_row_losses(logits: Tensor, target: Tensor, form: str = "baikal",
                      eps: float = 1e-6) -> Tensor:
    """Per-row Baikal (``form="baikal"``) or BaikalCMA (``"baikal_cma"``) loss.

    Args:
        logits (Tensor): ``[R, n]`` class logits (computed in float32).
        target (Tensor): ``[R]`` class index of each row.
        form (str): ``"baikal"`` or ``"baikal_cma"``. (default: ``"baikal"``)
        eps (float): floor of the probabilities. (default: ``1e-6``)

    Returns:
        Tensor: ``[R]``.
    """
    if form not in ("baikal", "baikal_cma"):
        raise ValueError(f"baikal_row_losses: form must be 'baikal' or 'baikal_cma', got "
                         f"{form!r}")
    logits = logits.float()
    n = logits.size(-1)
    log_y = torch.log_softmax(logits, dim=-1).clamp(min=math.log(eps))
    y_t = log_y.gather(-1, target.long().view(-1, 1)).view(-1).exp()  # >= eps
    if form == "baikal":
        return -(log_y.sum(-1) - 1.0 / y_t) / n
    c0, c1, c2, c3, c4, c5 = BAIKAL_CMA_COEFFICIENTS
    log_term = c1 * (log_y + math.log(c2)).sum(-1)
    return -c0 * (log_term - c3 * c4 / (c5 * y_t)) / n


def baikal_loss(logits: Tensor, target: Tensor, form: str = "baikal", eps: float = 1e-6,
                rows: Optional[Tensor] = None) -> Tensor:
    """Mean of :func:`baikal_row_losses` over the rows (or over the ``rows`` mask); a
    graph-connected 0 when there is none."""
    losses = baikal_row_losses(logits, target, form=form, eps=eps)
    if rows is not None:
        losses = losses[rows]
    if losses.numel() == 0:
        return logits.sum() * 0.0
    return losses.mean()
