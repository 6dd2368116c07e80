"""Motifs' object-label decoder: SGB's ``DecoderRNN``, a highway LSTM run along the sorted
objects of every image at once."""
from typing import Tuple

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from .highway import highway, recurrent_mask, split_projection


class HighwayLSTMDecoder(torch.nn.Module):
    r"""The object-label decoder of Neural Motifs as SGB codes it (``DecoderRNN``): an LSTM
    cell with a highway connection from its input,

    .. math::
        \mathbf{h}_t &= \mathbf{r}_t \odot \mathbf{o}_t \odot \tanh(\mathbf{c}_t)
        + (1 - \mathbf{r}_t) \odot \mathbf{W}_h \mathbf{u}_t, \qquad
        \mathbf{u}_t = [\mathbf{x}_t \| \mathbf{E}[\hat{c}_{t-1}]]

        \mathbf{z}_t &= \mathbf{W}_z \mathbf{h}_t, \qquad
        \hat{c}_t = 1 + \arg\max_{c \geq 1} z_{t,c}

    with input, forget, output and highway gates :math:`\mathbf{i, f, o, r}` from one
    projection of :math:`\mathbf{u}_t` (6 H wide, the last H the highway input) plus one of
    :math:`\mathbf{h}_{t-1}` (5 H), :math:`\hat{c}_0` the start token (row 0 of
    :math:`\mathbf{E}`). In training one dropout mask per sequence multiplies
    :math:`\mathbf{h}_t` at every step (SGB's ``get_dropout_mask``), and the given labels are
    fed back, a background label (0, an SGDet proposal without a match) replaced by the
    decoder's own prediction; otherwise the predictions are (greedy decoding). All images
    step together; padded positions are computed and left to the caller to drop.

    Args:
        in_channels (int): per-step input width :math:`F`.
        hidden_channels (int): state width :math:`H`.
        num_classes (int): classes including background, :math:`C + 1`.
        embed_dim (int): label-embedding width.
        dropout (float): recurrent dropout in training (SGB ``CONTEXT_DROPOUT_RATE``).
            (default: ``0.0``)

    Shapes:
        - **input:** ``x`` :math:`(B, T, F)`, ``labels`` :math:`(B, T)` (optional)
        - **output:** logits :math:`(B, T, C + 1)`, labels fed back :math:`(B, T)`
    """
    def __init__(self, in_channels: int, hidden_channels: int, num_classes: int,
                 embed_dim: int, dropout: float = 0.0):
        super().__init__()
        self.hidden_channels = hidden_channels
        self.dropout = float(dropout)
        self.embed = torch.nn.Embedding(num_classes, embed_dim)
        self.input_lin = torch.nn.Linear(in_channels + embed_dim, 6 * hidden_channels)
        self.state_lin = torch.nn.Linear(hidden_channels, 5 * hidden_channels)
        self.out = torch.nn.Linear(hidden_channels, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default for the weights, zero gate biases (SGB); the embedding is left
        to the owner (class-name vectors)."""
        for lin in (self.input_lin, self.state_lin, self.out):
            lin.reset_parameters()
        torch.nn.init.zeros_(self.input_lin.bias)
        torch.nn.init.zeros_(self.state_lin.bias)

    def cell(self, u: Tensor, h: Tensor, c: Tensor) -> Tuple[Tensor, Tensor]:
        """One step: input ``u [B, F + embed]``, state ``h, c [B, H]`` → new ``h, c``."""
        return self._cell(self.input_lin(u), h, c)

    def _cell(self, proj: Tensor, h: Tensor, c: Tensor) -> Tuple[Tensor, Tensor]:
        """One step from the input's projection ``proj [B, 6H]``."""
        H = self.hidden_channels
        gates = proj[:, :5 * H] + self.state_lin(h)
        i, f, g, o, r = gates.chunk(5, dim=-1)
        c = torch.sigmoid(i) * torch.tanh(g) + torch.sigmoid(f) * c
        return highway(r, torch.sigmoid(o) * torch.tanh(c), proj[:, 5 * H:], None), c

    def forward(self, x: Tensor, labels: OptTensor = None) -> Tuple[Tensor, Tensor]:
        B, T = x.shape[:2]
        h = c = x.new_zeros(B, self.hidden_channels)
        mask = recurrent_mask(h, self.dropout, self.training)  # one per sequence
        prev = x.new_zeros(B, dtype=torch.long)  # start token
        logits, fed = [], []
        # the projections of x for all steps at once; per step only the fed-back label
        gx, ge_w = split_projection(self.input_lin, x)
        for t in range(T):
            h, c = self._cell(gx[:, t] + self.embed(prev) @ ge_w.t(), h, c)
            if mask is not None:
                h = h * mask
            logit = self.out(h)
            prev = logit[:, 1:].argmax(dim=-1) + 1
            if labels is not None:
                prev = torch.where(labels[:, t] > 0, labels[:, t], prev)
            logits.append(logit)
            fed.append(prev)
        return torch.stack(logits, dim=1), torch.stack(fed, dim=1)

    def __repr__(self) -> str:
        in_channels = self.input_lin.in_features - self.embed.embedding_dim
        return (f"{self.__class__.__name__}({in_channels}, {self.hidden_channels}, "
                f"num_classes={self.out.out_features})")
