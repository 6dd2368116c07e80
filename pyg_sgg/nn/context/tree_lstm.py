"""Bidirectional binary Tree-LSTM, processed one tree depth level at a time."""
from typing import List, Tuple

import torch
from torch import Tensor


def tree_levels(left: Tensor, right: Tensor) -> List[Tensor]:
    """Nodes of a binary forest grouped by depth: ``levels[d]`` holds every node at depth
    ``d`` (all trees together). Raises if ``left`` / ``right`` do not form a forest."""
    n = left.numel()
    idx = torch.arange(n, device=left.device)
    parent = torch.full_like(left, -1)
    for child in (left, right):
        has = child >= 0
        parent[child[has]] = idx[has]
    levels, frontier, seen = [], (parent < 0).nonzero().view(-1), 0
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


class BiTreeLSTM(torch.nn.Module):
    r"""Bidirectional Tree-LSTM on binary trees, as the VCTree context of
    `"Learning to Compose Dynamic Tree Structures for Visual Contexts"
    <https://arxiv.org/abs/1812.01880>`_ (Tang et al., CVPR 2019).

    Bottom-up, a binary Tree-LSTM (`Tai et al., 2015 <https://arxiv.org/abs/1503.00075>`_)
    with one forget gate per child; top-down, an LSTM cell whose state comes from the
    binary parent (zeros at roots):

    .. math::
        [\mathbf{i}, \mathbf{f}_l, \mathbf{f}_r, \mathbf{o}, \mathbf{u}] &=
        \mathbf{W}\mathbf{x}_j + \mathbf{U}[\mathbf{h}^\uparrow_{l(j)} \|
        \mathbf{h}^\uparrow_{r(j)}] + \mathbf{b}

        \mathbf{c}^\uparrow_j &= \sigma(\mathbf{i}) \odot \tanh(\mathbf{u}) +
        \sigma(\mathbf{f}_l) \odot \mathbf{c}^\uparrow_{l(j)} + \sigma(\mathbf{f}_r) \odot
        \mathbf{c}^\uparrow_{r(j)}, \qquad \mathbf{h}^\uparrow_j = \sigma(\mathbf{o})
        \odot \tanh(\mathbf{c}^\uparrow_j)

        (\mathbf{h}^\downarrow_j, \mathbf{c}^\downarrow_j) &= \mathrm{LSTM}
        (\mathbf{x}_j, (\mathbf{h}^\downarrow_{p(j)}, \mathbf{c}^\downarrow_{p(j)}))

    and the output :math:`[\mathbf{h}^\uparrow_j \| \mathbf{h}^\downarrow_j]`. All nodes of
    one depth, across all trees of the batch, are updated in one step.

    Args:
        in_channels (int): input size :math:`F`.
        hidden_channels (int): state size :math:`H` per direction.

    Shapes:
        - **input:** node features :math:`(N, F)`, ``left`` / ``right`` child indices
          :math:`(N)` (``-1`` where absent)
        - **output:** :math:`(N, 2H)`
    """
    def __init__(self, in_channels: int, hidden_channels: int):
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.up_x = torch.nn.Linear(in_channels, 5 * hidden_channels)
        self.up_h = torch.nn.Linear(2 * hidden_channels, 5 * hidden_channels, bias=False)
        self.down_x = torch.nn.Linear(in_channels, 4 * hidden_channels)
        self.down_h = torch.nn.Linear(hidden_channels, 4 * hidden_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self):
        for lin in (self.up_x, self.up_h, self.down_x, self.down_h):
            lin.reset_parameters()

    def up_step(self, gx: Tensor, h_l: Tensor, c_l: Tensor, h_r: Tensor,
                c_r: Tensor) -> Tuple[Tensor, Tensor]:
        """Bottom-up update ``(h, c)`` of nodes with input projections ``gx = up_x(x)``
        from their children's states."""
        gates = gx + self.up_h(torch.cat([h_l, h_r], dim=-1))
        i, f_l, f_r, o, u = gates.chunk(5, dim=-1)
        c = (torch.sigmoid(i) * torch.tanh(u) + torch.sigmoid(f_l) * c_l
             + torch.sigmoid(f_r) * c_r)
        return torch.sigmoid(o) * torch.tanh(c), c

    def down_step(self, gx: Tensor, h_p: Tensor, c_p: Tensor) -> Tuple[Tensor, Tensor]:
        """Top-down LSTM update ``(h, c)`` of nodes with input projections
        ``gx = down_x(x)`` from their parents' states."""
        i, f, g, o = (gx + self.down_h(h_p)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c_p + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def forward(self, x: Tensor, left: Tensor, right: Tensor) -> Tensor:
        n, H = x.size(0), self.hidden_channels
        if left.shape != (n,) or right.shape != (n,):
            raise ValueError(f"BiTreeLSTM: left/right must have shape "
                             f"({n},), got {tuple(left.shape)} / {tuple(right.shape)}")
        levels = tree_levels(left, right)
        none = torch.full_like(left, n)  # row n holds the zero state of absent nodes
        left, right = torch.where(left >= 0, left, none), torch.where(right >= 0, right, none)
        parent = none.clone()
        idx = torch.arange(n, device=x.device)
        parent[left[left < n]] = idx[left < n]
        parent[right[right < n]] = idx[right < n]

        gx = self.up_x(x)  # input projections of all nodes at once
        h, c = x.new_zeros(n + 1, H), x.new_zeros(n + 1, H)
        for nodes in reversed(levels):
            l, r = left[nodes], right[nodes]
            h_new, c_new = self.up_step(gx[nodes], h[l], c[l], h[r], c[r])
            h, c = h.index_copy(0, nodes, h_new), c.index_copy(0, nodes, c_new)

        gx = self.down_x(x)
        hd, cd = x.new_zeros(n + 1, H), x.new_zeros(n + 1, H)
        for nodes in levels:
            p = parent[nodes]
            h_new, c_new = self.down_step(gx[nodes], hd[p], cd[p])
            hd, cd = hd.index_copy(0, nodes, h_new), cd.index_copy(0, nodes, c_new)
        return torch.cat([h[:n], hd[:n]], dim=-1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels})"
