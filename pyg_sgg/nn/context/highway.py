"""The pieces SGB's highway recurrent cells share (Motifs' decoder, VCTree's Tree-LSTMs): the
recurrent dropout mask, the highway mix and the block-orthogonal initialisation."""
from typing import Optional, Tuple

import torch
from torch import Tensor


def block_orthogonal_(weight: Tensor, rows: int, cols: int) -> Tensor:
    """Orthogonal initialisation of every ``[rows, cols]`` block of ``weight`` (SGB's
    ``block_orthogonal``, from AllenNLP), in place."""
    with torch.no_grad():
        for r in range(0, weight.size(0), rows):
            for c in range(0, weight.size(1), cols):
                block = weight.new_empty(max(rows, cols), max(rows, cols))
                torch.nn.init.orthogonal_(block)
                weight[r:r + rows, c:c + cols] = block[:rows, :cols]
    return weight


def recurrent_mask(like: Tensor, dropout: float, training: bool) -> Optional[Tensor]:
    """A dropout mask shaped like ``like`` (scaled by ``1 / keep``), drawn once per forward
    and applied at every step, as SGB's ``get_dropout_mask``; ``None`` when off."""
    if not training or dropout <= 0:
        return None
    keep = 1.0 - dropout
    return torch.bernoulli(torch.full_like(like, keep)) / keep


def highway(gate: Tensor, state: Tensor, projected: Tensor, mask: Optional[Tensor]) -> Tensor:
    """``σ(gate) ⊙ state + (1 − σ(gate)) ⊙ projected``, times the dropout mask."""
    r = torch.sigmoid(gate)
    h = r * state + (1 - r) * projected
    return h if mask is None else h * mask


def split_projection(lin: torch.nn.Linear, x: Tensor) -> Tuple[Tensor, Tensor]:
    """``lin`` on ``[x | e]`` split for a decoder whose ``e`` (a label embedding) changes per
    step: the projection of all of ``x [..., F]`` at once, with the bias, and the weight
    ``[out, E]`` that ``e`` is multiplied with later (``lin([x | e]) = px + e @ w.t()``)."""
    F = x.size(-1)
    return (torch.nn.functional.linear(x, lin.weight[:, :F], lin.bias), lin.weight[:, F:])
