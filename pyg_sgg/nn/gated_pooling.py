"""Gated sum pooling of node (and optionally edge) states per graph."""
from typing import Optional

import torch
from torch import Tensor
from torch.nn import Linear

from torch_geometric.nn.aggr import AttentionalAggregation
from torch_geometric.typing import OptTensor
from torch_geometric.utils import scatter


class GatedPooling(torch.nn.Module):
    r"""Gated readout of the `"Energy-Based Learning for Scene Graph Generation"
    <https://arxiv.org/abs/2103.02221>`_ paper (``GatedPooling`` / ``EdgeGatedPooling``):

    .. math::
        \mathbf{p}_b = \sum_{v \in b} (\mathbf{w}^\top \mathbf{h}_v + c)\,\mathbf{h}_v,
        \qquad
        \mathbf{q}_b = \sum_{e \in b} (\mathbf{u}^\top \mathbf{e}_e + d)\,\mathbf{e}_e,
        \qquad
        \mathbf{z}_b = \mathbf{\Theta}\,[\mathbf{p}_b \,\Vert\, \mathbf{q}_b] + \mathbf{b}

    The gate is a raw linear score (no sigmoid, no softmax); the edge part exists only when
    :obj:`edge_channels` is given. With :obj:`softmax=True` the gates are normalised per
    graph, i.e. :class:`~torch_geometric.nn.aggr.AttentionalAggregation`.

    Args:
        in_channels (int): Size of each node state.
        out_channels (int): Size of each graph embedding.
        edge_channels (int, optional): Size of each edge state; pools edges too.
            (default: :obj:`None`)
        softmax (bool, optional): Softmax-normalise the gates per graph.
            (default: :obj:`False`)
        bias (bool, optional): If set to :obj:`False`, the output layer learns no additive
            bias. (default: :obj:`True`)

    Shapes:
        - **input:** node states :math:`(|\mathcal{V}|, F)`, node graph index
          :math:`(|\mathcal{V}|)`, edge states :math:`(|\mathcal{E}|, F_e)`, edge graph
          index :math:`(|\mathcal{E}|)`
        - **output:** graph embeddings :math:`(B, F_{out})`
    """
    def __init__(self, in_channels: int, out_channels: int,
                 edge_channels: Optional[int] = None, softmax: bool = False,
                 bias: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.edge_channels = edge_channels
        self.softmax = softmax

        self.gate = Linear(in_channels, 1)
        self.edge_gate = None if edge_channels is None else Linear(edge_channels, 1)
        self.node_aggr = self.edge_aggr = None
        if softmax:
            self.node_aggr = AttentionalAggregation(self.gate)
            if self.edge_gate is not None:
                self.edge_aggr = AttentionalAggregation(self.edge_gate)
        self.lin = Linear(in_channels + (edge_channels or 0), out_channels, bias=bias)

        self.reset_parameters()

    def reset_parameters(self):
        self.gate.reset_parameters()
        if self.edge_gate is not None:
            self.edge_gate.reset_parameters()
        self.lin.reset_parameters()

    def _pool(self, x: Tensor, index: Tensor, size: int, gate: Linear,
              aggr: Optional[AttentionalAggregation]) -> Tensor:
        if aggr is not None:
            return aggr(x, index, dim_size=size)
        return scatter(gate(x) * x, index, dim=0, dim_size=size, reduce='sum')

    def forward(self, x: Tensor, index: OptTensor = None, edge_attr: OptTensor = None,
                edge_attr_index: OptTensor = None, dim_size: Optional[int] = None) -> Tensor:
        r"""
        Args:
            x (torch.Tensor): node states :math:`(|\mathcal{V}|, F)`.
            index (torch.Tensor, optional): graph of each node (a batch vector); all one
                graph if :obj:`None`. (default: :obj:`None`)
            edge_attr (torch.Tensor, optional): edge states, required with
                :obj:`edge_channels`. (default: :obj:`None`)
            edge_attr_index (torch.Tensor, optional): graph of each edge state.
                (default: :obj:`None`)
            dim_size (int, optional): number of graphs :math:`B`. (default: :obj:`None`)
        """
        if index is None:
            index = x.new_zeros(x.size(0), dtype=torch.long)
        if dim_size is None:
            dim_size = int(index.max()) + 1 if index.numel() > 0 else 1
        out = self._pool(x, index, dim_size, self.gate, self.node_aggr)
        if self.edge_gate is not None:
            if edge_attr is None or edge_attr_index is None:
                raise ValueError("GatedPooling: 'edge_attr' and 'edge_attr_index' are required "
                                 "when 'edge_channels' is set")
            out_e = self._pool(edge_attr, edge_attr_index, dim_size, self.edge_gate,
                               self.edge_aggr)
            out = torch.cat([out, out_e], dim=-1)
        return self.lin(out)

    def __repr__(self) -> str:
        edge = '' if self.edge_channels is None else f', edge_channels={self.edge_channels}'
        soft = ', softmax=True' if self.softmax else ''
        return (f'{self.__class__.__name__}({self.in_channels}, {self.out_channels}'
                f'{edge}{soft})')
