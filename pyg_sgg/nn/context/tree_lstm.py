"""SGB's highway Tree-LSTMs on binary trees (VCTree), processed one depth level at a time:
the bidirectional encoder and the top-down label decoder."""
from typing import List, Tuple

import torch
from torch import Tensor

from .highway import block_orthogonal_, highway, recurrent_mask, split_projection


def tree_levels(left: Tensor, right: Tensor) -> List[Tensor]:
    """Nodes of a binary forest grouped by depth: ``levels[d]`` holds every node at depth
    ``d`` (all trees together). Raises if ``left`` / ``right`` do not form a forest."""
    n = left.numel()
    roots = binary_parent(left, right) == n
    levels, frontier, seen = [], roots.nonzero().view(-1), 0
    while frontier.numel() > 0:
        levels.append(frontier)
        seen += frontier.numel()
        if seen > n:
            raise ValueError("tree_levels: 'left' / 'right' do not form a forest")
        children = torch.cat([left[frontier], right[frontier]])
        frontier = children[children >= 0]
    if seen != n:
        raise ValueError("tree_levels: 'left' / 'right' do not form a forest")
    return levels


def binary_parent(left: Tensor, right: Tensor) -> Tensor:
    """``[N]`` parent of each node in the binary forest (``N`` for roots: the row of the
    zero state in the level loops below)."""
    n = left.numel()
    parent = torch.full_like(left, n)
    idx = torch.arange(n, device=left.device)
    for child in (left, right):
        has = child >= 0
        parent[child[has]] = idx[has]
    return parent


class BiTreeLSTM(torch.nn.Module):
    r"""Bidirectional Tree-LSTM of VCTree (`"Learning to Compose Dynamic Tree Structures
    for Visual Contexts" <https://arxiv.org/abs/1812.01880>`_, Tang et al., CVPR 2019) as
    SGB codes it (``BidirectionalTreeLSTM``): two highway Tree-LSTMs of width
    :math:`H/2`, bottom-up with one forget gate per child,

    .. math::
        [\mathbf{i}, \mathbf{o}, \mathbf{f}_l, \mathbf{f}_r, \mathbf{u}, \mathbf{r}] &=
        \mathbf{W}\mathbf{x}_j + \mathbf{U}_l\mathbf{h}^\uparrow_{l(j)} +
        \mathbf{U}_r\mathbf{h}^\uparrow_{r(j)} + \mathbf{b}

        \mathbf{c}^\uparrow_j &= \sigma(\mathbf{i}) \odot \tanh(\mathbf{u}) +
        \sigma(\mathbf{f}_l) \odot \mathbf{c}^\uparrow_{l(j)} + \sigma(\mathbf{f}_r) \odot
        \mathbf{c}^\uparrow_{r(j)}

        \mathbf{h}^\uparrow_j &= \sigma(\mathbf{r}) \odot \sigma(\mathbf{o}) \odot
        \tanh(\mathbf{c}^\uparrow_j) + (1 - \sigma(\mathbf{r})) \odot \mathbf{P}\mathbf{x}_j

    and top-down the same highway cell with one input, the binary parent's state (zeros at
    roots); output :math:`[\mathbf{h}^\uparrow_j \| \mathbf{h}^\downarrow_j]`. In training
    each direction multiplies its states by one dropout mask for the whole forward. All
    nodes of one depth, across all trees of the batch, are updated in one step.
    Initialisation as SGB: block-orthogonal weights, zero biases except the forget gates
    (0.5 bottom-up, 1.0 top-down).

    Args:
        in_channels (int): input size :math:`F`.
        out_channels (int): output size :math:`H` (even; :math:`H/2` per direction).
        dropout (float): recurrent dropout in training. (default: ``0.0``)

    Shapes:
        - **input:** node features :math:`(N, F)`, ``left`` / ``right`` child indices
          :math:`(N)` (``-1`` where absent)
        - **output:** :math:`(N, H)`
    """
    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0):
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"BiTreeLSTM: 'out_channels' must be even, got {out_channels}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.dropout = float(dropout)
        h = out_channels // 2
        self.up_px = torch.nn.Linear(in_channels, h)
        self.up_x = torch.nn.Linear(in_channels, 6 * h)
        self.up_h_left = torch.nn.Linear(h, 6 * h)
        self.up_h_right = torch.nn.Linear(h, 6 * h)
        self.down_px = torch.nn.Linear(in_channels, h)
        self.down_x = torch.nn.Linear(in_channels, 5 * h)
        self.down_h = torch.nn.Linear(h, 5 * h)
        self.reset_parameters()

    def reset_parameters(self):
        h, F = self.out_channels // 2, self.in_channels
        for lin, cols in ((self.up_px, F), (self.up_x, F), (self.up_h_left, h),
                          (self.up_h_right, h), (self.down_px, F), (self.down_x, F),
                          (self.down_h, h)):
            block_orthogonal_(lin.weight, h, cols)
            torch.nn.init.zeros_(lin.bias)
        with torch.no_grad():
            self.up_h_left.bias[2 * h:4 * h] = 0.5
            self.up_h_right.bias[2 * h:4 * h] = 0.5
            self.down_h.bias[2 * h:3 * h] = 1.0

    def forward(self, x: Tensor, left: Tensor, right: Tensor) -> Tensor:
        n, h = x.size(0), self.out_channels // 2
        if left.shape != (n,) or right.shape != (n,):
            raise ValueError(f"BiTreeLSTM: left/right must have shape "
                             f"({n},), got {tuple(left.shape)} / {tuple(right.shape)}")
        levels = tree_levels(left, right)
        parent = binary_parent(left, right)
        none = torch.full_like(left, n)  # row n holds the zero state of absent nodes
        left, right = torch.where(left >= 0, left, none), torch.where(right >= 0, right, none)

        state = x.new_zeros(n + 1, h)
        mask = recurrent_mask(state[:1], self.dropout, self.training)
        gx, px = self.up_x(x), self.up_px(x)
        hu, cu = state, state
        for nodes in reversed(levels):
            l, r = left[nodes], right[nodes]
            gates = gx[nodes] + self.up_h_left(hu[l]) + self.up_h_right(hu[r])
            i, o, f_l, f_r, u, g = gates.chunk(6, dim=-1)
            c = (torch.sigmoid(i) * torch.tanh(u) + torch.sigmoid(f_l) * cu[l]
                 + torch.sigmoid(f_r) * cu[r])
            h_new = highway(g, torch.sigmoid(o) * torch.tanh(c), px[nodes], mask)
            hu, cu = hu.index_copy(0, nodes, h_new), cu.index_copy(0, nodes, c)

        mask = recurrent_mask(state[:1], self.dropout, self.training)
        gx, px = self.down_x(x), self.down_px(x)
        hd, cd = state, state
        for nodes in levels:
            p = parent[nodes]
            i, o, f, u, g = (gx[nodes] + self.down_h(hd[p])).chunk(5, dim=-1)
            c = torch.sigmoid(i) * torch.tanh(u) + torch.sigmoid(f) * cd[p]
            h_new = highway(g, torch.sigmoid(o) * torch.tanh(c), px[nodes], mask)
            hd, cd = hd.index_copy(0, nodes, h_new), cd.index_copy(0, nodes, c)
        return torch.cat([hu[:n], hd[:n]], dim=-1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels})"


class TreeLSTMDecoder(torch.nn.Module):
    r"""VCTree's object-label decoder as SGB codes it (``DecoderTreeLSTM``, top-down): the
    top-down highway cell of :class:`BiTreeLSTM` at full width :math:`H`, whose input adds
    the label embedding of the binary parent (the start token, row 0 of
    :math:`\mathbf{E}`, at roots); each node predicts :math:`\mathbf{z}_j = \mathbf{W}_z
    \mathbf{h}_j` and passes down :math:`1 + \arg\max_{c \geq 1} z_{j,c}` at test, a label
    sampled from :math:`\mathrm{softmax}(\mathbf{z}_j)` restricted to the foreground in
    training (SGB's ``multinomial``). Returns the logits and the arg-max labels.

    Args:
        in_channels (int): per-node input width :math:`F`.
        hidden_channels (int): state width :math:`H`.
        num_classes (int): classes including background, :math:`C + 1`.
        embed_dim (int): label-embedding width.
        dropout (float): recurrent dropout in training. (default: ``0.0``)

    Shapes:
        - **input:** ``x`` :math:`(N, F)`, ``left`` / ``right`` :math:`(N)`
        - **output:** logits :math:`(N, C + 1)`, labels :math:`(N)`
    """
    def __init__(self, in_channels: int, hidden_channels: int, num_classes: int,
                 embed_dim: int, dropout: float = 0.0):
        super().__init__()
        self.hidden_channels = hidden_channels
        self.dropout = float(dropout)
        self.embed = torch.nn.Embedding(num_classes, embed_dim)
        self.px = torch.nn.Linear(in_channels + embed_dim, hidden_channels)
        self.x_lin = torch.nn.Linear(in_channels + embed_dim, 5 * hidden_channels)
        self.h_lin = torch.nn.Linear(hidden_channels, 5 * hidden_channels)
        self.out = torch.nn.Linear(hidden_channels, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        """SGB's: block-orthogonal cell weights, zero biases but the forget gate's 1.0,
        PyTorch's default for the output layer; the embedding is left to the owner."""
        H, F = self.hidden_channels, self.px.in_features
        for lin, cols in ((self.px, F), (self.x_lin, F), (self.h_lin, H)):
            block_orthogonal_(lin.weight, H, cols)
            torch.nn.init.zeros_(lin.bias)
        with torch.no_grad():
            self.h_lin.bias[2 * H:3 * H] = 1.0
        self.out.reset_parameters()

    def forward(self, x: Tensor, left: Tensor, right: Tensor) -> Tuple[Tensor, Tensor]:
        n = x.size(0)
        levels = tree_levels(left, right)
        parent = binary_parent(left, right)
        state = x.new_zeros(n + 1, self.hidden_channels)
        mask = recurrent_mask(state[:1], self.dropout, self.training)
        emb = self.embed.weight[:1].expand(n + 1, -1)  # row n: the start token
        logits = x.new_zeros(n, self.out.out_features)
        labels = torch.zeros(n, dtype=torch.long, device=x.device)
        # the projections of x for all nodes at once; per level only the parents' labels
        gx, ge_w = split_projection(self.x_lin, x)
        px, pe_w = split_projection(self.px, x)
        hd, cd = state, state
        for nodes in levels:
            p = parent[nodes]
            e = emb[p]
            gates = gx[nodes] + e @ ge_w.t() + self.h_lin(hd[p])
            i, o, f, g, r = gates.chunk(5, dim=-1)
            c = torch.sigmoid(i) * torch.tanh(g) + torch.sigmoid(f) * cd[p]
            h_new = highway(r, torch.sigmoid(o) * torch.tanh(c), px[nodes] + e @ pe_w.t(), mask)
            hd, cd = hd.index_copy(0, nodes, h_new), cd.index_copy(0, nodes, c)
            z = self.out(h_new)
            best = z[:, 1:].argmax(dim=-1) + 1
            # SGB samples from softmax(z)[1:], unnormalised: the same distribution as the
            # softmax of the foreground logits, which cannot underflow to all zeros
            fed = (torch.softmax(z.detach()[:, 1:], dim=-1).multinomial(1).view(-1) + 1
                   if self.training else best)
            logits = logits.index_copy(0, nodes, z)
            labels[nodes] = best
            emb = emb.index_copy(0, nodes, self.embed(fed))
        return logits, labels

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.px.in_features - self.embed.embedding_dim}, "
                f"{self.hidden_channels}, num_classes={self.out.out_features})")
