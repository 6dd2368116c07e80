"""Iterative message passing (IMP) context encoder."""
from typing import Optional

import torch
from torch import Tensor
from torch_geometric.nn import MessagePassing
from torch_geometric.nn.inits import reset
from torch_geometric.typing import OptTensor

from .base import CONTEXT_REGISTRY, ContextEncoder, ContextOutput


@CONTEXT_REGISTRY.register("imp")
class IMPContext(ContextEncoder, MessagePassing):
    r"""Iterative message passing between a node GRU and an edge GRU from
    `"Scene Graph Generation by Iterative Message Passing"
    <https://arxiv.org/abs/1701.02426>`_ (Xu et al., CVPR 2017), as SGB's ``IMPContext``.

    Node states start as :math:`\mathrm{GRU}_v(\mathbf{W}_x \mathbf{x}_i, \mathbf{0})`, edge
    states as :math:`\mathrm{GRU}_e(\mathrm{ReLU}(\mathbf{W}_u \mathbf{U} \mathbf{u}_{ij}),
    \mathbf{0})` from the union features :math:`\mathbf{u}` (:math:`\mathbf{U}`: SGB's
    ``up_dim`` linear map to ``pooling_channels`` when the widths differ). Then for :math:`T`
    iterations every edge :math:`(i, j)` (subject :math:`i`, object :math:`j`) is updated from
    gated node states and every node from gated states of its outgoing (subject) and incoming
    (object) edges, both from the previous iteration's states:

    .. math::
        \mathbf{e}_{ij} &\leftarrow \mathrm{GRU}_e\Big(\sigma(\mathbf{w}_s^\top
        [\mathbf{h}_i \| \mathbf{e}_{ij}])\, \mathbf{h}_i + \sigma(\mathbf{w}_o^\top
        [\mathbf{h}_j \| \mathbf{e}_{ij}])\, \mathbf{h}_j,\ \mathbf{e}_{ij}\Big)

        \mathbf{h}_i &\leftarrow \mathrm{GRU}_v\Big(\bigoplus_{j} \sigma(
        \mathbf{u}_{out}^\top [\mathbf{h}_i \| \mathbf{e}_{ij}])\, \mathbf{e}_{ij}
        \oplus \bigoplus_{j} \sigma(\mathbf{u}_{in}^\top [\mathbf{h}_i \| \mathbf{e}_{ji}])\,
        \mathbf{e}_{ji},\ \mathbf{h}_i\Big)

    with :math:`\bigoplus` the aggregation ``aggr`` over both directions (SGB: the sum). The
    object logits are a linear map of the last node states; the relation head reads the last
    edge states (SGB's ``rel_fc``). Without union features (no SGB counterpart) the edge states
    start from ``ReLU(Linear([W_x x_i || W_x x_j]))``.

    Args:
        in_channels (int): RoI feature size :math:`D`.
        hidden_channels (int): node and edge state size :math:`H` (SGB: 512).
        num_classes (int): object classes including background, :math:`C + 1`.
        edge_channels (int, optional): union-feature size; if set, ``forward`` needs
            ``edge_attr``. (default: :obj:`None`)
        pooling_channels (int, optional): SGB's ``CONTEXT_POOLING_DIM``: the union features
            are mapped to it first when ``edge_channels`` differs. (default: :obj:`None`)
        num_iterations (int): message passing rounds :math:`T`. (default: ``3``)
        pos_channels (int): box-geometry size appended to :math:`\mathbf{x}` (``0``: none, as
            SGB). (default: ``0``)
        aggr (str): ``"sum"`` (SGB, Xu et al.) or ``"mean"``. (default: ``"sum"``)
        dropout (float): dropout on the inputs (SGB: none). (default: ``0.0``)
        **kwargs (optional): of :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** node features :math:`(N, D)`, ``pos`` :math:`(N, 9)`, ``obj_dist``
          :math:`(N, C + 1)` (unused), edge indices :math:`(2, E)`, batch vector
          :math:`(N)`, ``edge_attr`` :math:`(E, D_e)` (optional)
        - **output:** :class:`ContextOutput` with node states :math:`(N, H)`, object logits
          :math:`(N, C + 1)`, edge states :math:`(E, H)`
    """
    uses_edge_attr = True

    def __init__(self, in_channels: int, hidden_channels: int, num_classes: int,
                 edge_channels: Optional[int] = None, pooling_channels: Optional[int] = None,
                 num_iterations: int = 3, pos_channels: int = 0, aggr: str = "sum",
                 dropout: float = 0.0, **kwargs):
        super().__init__(aggr=aggr, **kwargs)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_classes = num_classes
        self.edge_channels = edge_channels
        self.num_iterations = num_iterations
        self.pos_channels = pos_channels
        self.dropout = dropout

        self.node_lin = torch.nn.Linear(in_channels + pos_channels, hidden_channels)
        self.up_dim = None
        if edge_channels:
            width = edge_channels
            if pooling_channels and pooling_channels != edge_channels:
                self.up_dim = torch.nn.Linear(edge_channels, pooling_channels)
                width = pooling_channels
            self.edge_lin = torch.nn.Linear(width, hidden_channels)
        else:
            self.edge_lin = torch.nn.Linear(2 * hidden_channels, hidden_channels)
        # gates [h_node || e] -> (subject, object) for edge updates, (out, in) for nodes
        self.edge_gate = torch.nn.Linear(2 * hidden_channels, 2)
        self.node_gate = torch.nn.Linear(2 * hidden_channels, 2)
        self.node_gru = torch.nn.GRUCell(hidden_channels, hidden_channels)
        self.edge_gru = torch.nn.GRUCell(hidden_channels, hidden_channels)
        self.obj_lin = torch.nn.Linear(hidden_channels, num_classes)
        self.reset_parameters()

    @property
    def edge_out_channels(self) -> int:
        return self.hidden_channels

    def reset_parameters(self):
        super().reset_parameters()
        for module in (self.node_lin, self.up_dim, self.edge_lin, self.edge_gate,
                       self.node_gate, self.node_gru, self.edge_gru, self.obj_lin):
            if module is not None:
                reset(module)

    def forward(self, x: Tensor, pos: Tensor, obj_dist: OptTensor, edge_index: Tensor,
                batch: OptTensor = None, obj_labels: OptTensor = None,
                edge_attr: OptTensor = None) -> ContextOutput:
        self.check_inputs(x, pos, obj_dist, obj_labels)
        if self.pos_channels > 0:
            x = torch.cat([x, pos], dim=-1)
        x = torch.nn.functional.dropout(x, self.dropout, self.training)
        h = self.node_lin(x)
        if self.edge_channels:
            if edge_attr is None:
                raise ValueError("IMPContext: 'edge_attr' is required when 'edge_channels' "
                                 "is set")
            edge_attr = torch.nn.functional.dropout(edge_attr, self.dropout, self.training)
            if self.up_dim is not None:
                edge_attr = self.up_dim(edge_attr)
            e = torch.relu(self.edge_lin(edge_attr))
        else:
            e = torch.relu(self.edge_lin(torch.cat([h[edge_index[0]], h[edge_index[1]]], -1)))
        h, e = self.node_gru(h), self.edge_gru(e)  # SGB's first step, from zero states

        # messages to objects (in-edges) and to subjects (out-edges) in one propagate
        both_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)
        direction = torch.cat([edge_index.new_ones(edge_index.size(1)),
                               edge_index.new_zeros(edge_index.size(1))]).view(-1, 1)
        for _ in range(self.num_iterations):
            # nodes and edges are both updated from the previous states (Xu et al.)
            # edge_updater_type: (h: Tensor, e: Tensor)
            e_next = self.edge_updater(edge_index, h=h, e=e)
            # propagate_type: (h: Tensor, e: Tensor, direction: Tensor)
            m = self.propagate(both_index, h=h, e=torch.cat([e, e], dim=0),
                               direction=direction, size=(h.size(0), h.size(0)))
            h, e = self.node_gru(m, h), e_next
        return ContextOutput(h, self.obj_lin(h), e)

    def edge_update(self, h_j: Tensor, h_i: Tensor, e: Tensor) -> Tensor:
        # flow source_to_target: j = edge_index[0] = subject, i = edge_index[1] = object
        gate_s = torch.sigmoid(self.edge_gate(torch.cat([h_j, e], -1))[:, 0:1])
        gate_o = torch.sigmoid(self.edge_gate(torch.cat([h_i, e], -1))[:, 1:2])
        return self.edge_gru(gate_s * h_j + gate_o * h_i, e)

    def message(self, h_i: Tensor, e: Tensor, direction: Tensor) -> Tensor:
        # h_i: receiving node; direction 1 = it is the object (in-edge), 0 = subject
        gate = self.node_gate(torch.cat([h_i, e], -1)).gather(1, direction)
        return torch.sigmoid(gate) * e

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"num_classes={self.num_classes}, "
                f"num_iterations={self.num_iterations})")
