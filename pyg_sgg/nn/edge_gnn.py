"""The edge-aware graph network (EGNN) of the energy-based SGG paper."""
from typing import Optional, Tuple

from torch import Tensor
from torch.nn import GRUCell, Linear, ReLU, Sequential

from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.inits import reset
from torch_geometric.utils import scatter


def _mlp(in_channels: int, hidden_channels: int, out_channels: int, bias: bool) -> Sequential:
    return Sequential(Linear(in_channels, hidden_channels, bias=bias), ReLU(),
                      Linear(hidden_channels, out_channels, bias=bias), ReLU())


class EdgeGNN(MessagePassing):
    r"""The edge graph neural network from the `"Energy-Based Learning for Scene Graph
    Generation" <https://arxiv.org/abs/2103.02221>`_ paper (EGNN), which updates node and
    directed edge states together.

    For an edge :math:`i \to j` (subject :math:`i`, object :math:`j`), each of the
    :obj:`num_layers` iterations computes, from the states at the start of the iteration,

    .. math::
        \mathbf{m}_i &= \mathrm{MLP}_{nn}\Big(\frac{1}{|\mathcal{N}^{out}(i)|}
        \sum_{j \in \mathcal{N}^{out}(i)} \mathbf{h}_j\Big), \qquad
        \mathbf{u}_j = \mathrm{MLP}_{en}\Big(\sum_{i \in \mathcal{N}^{in}(j)}
        \mathbf{e}_{i \to j}\Big)

        \mathbf{h}_i &\leftarrow \mathrm{GRU}_{node}\big(\alpha\,\mathbf{m}_i +
        (1 - \alpha)\,\mathbf{u}_i,\ \mathbf{h}_i\big)

        \mathbf{e}_{i \to j} &\leftarrow \mathrm{GRU}_{edge}\big(
        \mathrm{MLP}_{ne}([\mathbf{h}_i \,\Vert\, \mathbf{h}_j]),\ \mathbf{e}_{i \to j}\big)

    where every MLP is :obj:`Linear, ReLU, Linear, ReLU`, a node without out-neighbours gets
    a zero mean, and :math:`\mathrm{GRU}_{edge}` has no bias (as in the authors' code).
    Weights are shared across iterations. Sparse over :obj:`edge_index` (pairs listed twice
    count twice); the first layer of :math:`\mathrm{MLP}_{ne}` is applied per node and then
    gathered (:math:`\mathbf{W}[\mathbf{h}_i \Vert \mathbf{h}_j] = \mathbf{W}_s\mathbf{h}_i +
    \mathbf{W}_o\mathbf{h}_j`), so its cost is :math:`O(|\mathcal{V}|)`, not
    :math:`O(|\mathcal{E}|)`.

    Args:
        in_channels (int): Size :math:`D` of each node state.
        edge_channels (int, optional): Size of each edge state. (default: :obj:`in_channels`)
        num_layers (int, optional): Number of iterations :math:`T`. (default: :obj:`3`)
        alpha (float, optional): Weight :math:`\alpha` of the node-to-node message.
            (default: :obj:`0.5`)
        bias (bool, optional): If set to :obj:`False`, the MLPs and the node GRU learn no
            additive bias. (default: :obj:`True`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** node states :math:`(|\mathcal{V}|, D)`, edge indices
          :math:`(2, |\mathcal{E}|)` (subject, object), edge states
          :math:`(|\mathcal{E}|, D_e)`
        - **output:** node states :math:`(|\mathcal{V}|, D)`, edge states
          :math:`(|\mathcal{E}|, D_e)`
    """
    def __init__(self, in_channels: int, edge_channels: Optional[int] = None, num_layers: int = 3,
                 alpha: float = 0.5, bias: bool = True, **kwargs):
        kwargs.setdefault('aggr', 'mean')
        kwargs.setdefault('flow', 'target_to_source')  # aggregate over out-neighbours
        super().__init__(**kwargs)

        self.in_channels = in_channels
        self.edge_channels = in_channels if edge_channels is None else edge_channels
        self.num_layers = num_layers
        self.alpha = alpha
        self.bias = bias

        D, E = self.in_channels, self.edge_channels
        self.node_mlp = _mlp(D, D, D, bias)  # node -> node
        self.edge_to_node_mlp = _mlp(E, D, D, bias)  # edge -> node
        self.pair_mlp = _mlp(2 * D, E, E, bias)  # node -> edge
        self.node_rnn = GRUCell(D, D, bias=bias)
        self.edge_rnn = GRUCell(E, E, bias=False)

        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        for module in (self.node_mlp, self.edge_to_node_mlp, self.pair_mlp, self.node_rnn,
                       self.edge_rnn):
            reset(module)

    def forward(self, x: Tensor, edge_index: Tensor,
                edge_attr: Tensor) -> Tuple[Tensor, Tensor]:
        if edge_attr.size(0) != edge_index.size(1):
            raise ValueError(f"EdgeGNN: 'edge_attr' has {edge_attr.size(0)} rows but "
                             f"'edge_index' has {edge_index.size(1)} edges")
        for _ in range(self.num_layers):
            # propagate_type: (x: Tensor)
            n2n = self.propagate(edge_index, x=x)
            e2n = scatter(edge_attr, edge_index[1], dim=0, dim_size=x.size(0), reduce='sum')
            # Linear(2D, E) on [h_i ; h_j] == W_s h_i + W_o h_j + b: project nodes, not pairs
            w_subj, w_obj = self.pair_mlp[0].weight.split(self.in_channels, dim=1)
            # edge_updater_type: (subj: Tensor, obj: Tensor)
            n2e = self.edge_updater(edge_index, subj=x @ w_subj.t(), obj=x @ w_obj.t())
            msg = (self.alpha * self.node_mlp(n2n) +
                   (1.0 - self.alpha) * self.edge_to_node_mlp(e2n))
            x, edge_attr = self.node_rnn(msg, x), self.edge_rnn(n2e, edge_attr)
        return x, edge_attr

    def message(self, x_j: Tensor) -> Tensor:
        return x_j  # with flow 'target_to_source': j = edge_index[1], the object

    def edge_update(self, subj_i: Tensor, obj_j: Tensor) -> Tensor:
        out = subj_i + obj_j  # i = edge_index[0] (subject), j = edge_index[1] (object)
        if self.pair_mlp[0].bias is not None:
            out = out + self.pair_mlp[0].bias
        return self.pair_mlp[3](self.pair_mlp[2](self.pair_mlp[1](out)))

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'edge_channels={self.edge_channels}, num_layers={self.num_layers}, '
                f'alpha={self.alpha})')
