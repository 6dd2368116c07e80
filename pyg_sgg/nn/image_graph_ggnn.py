"""The image-graph GGNN of the energy-based SGG paper."""
from torch import Tensor
from torch.nn import GRUCell, Linear, ReLU, Sequential

from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.inits import reset
from torch_geometric.typing import Adj


class ImageGraphGGNN(MessagePassing):
    r"""The gated graph network the `"Energy-Based Learning for Scene Graph Generation"
    <https://arxiv.org/abs/2103.02221>`_ paper runs on the image graph: a mean over
    out-neighbours, a two-layer MLP, then a GRU update, repeated :obj:`num_layers` times with
    shared weights.

    .. math::
        \mathbf{m}_i &= \mathrm{ReLU}\Big(\mathbf{W}_2\,\mathrm{ReLU}\Big(\mathbf{W}_1
        \frac{1}{|\mathcal{N}^{out}(i)|} \sum_{j \in \mathcal{N}^{out}(i)} \mathbf{h}_j
        + \mathbf{b}_1\Big) + \mathbf{b}_2\Big)

        \mathbf{h}_i &\leftarrow \mathrm{GRU}(\mathbf{m}_i, \mathbf{h}_i)

    :math:`\mathcal{N}^{out}(i)` are the objects :math:`j` of edges :math:`i \to j`; a node
    without out-neighbours gets a zero mean. Unlike
    :class:`~torch_geometric.nn.conv.GatedGraphConv` (sum, one linear map), this averages and
    applies an MLP after aggregation.

    Args:
        channels (int): Size of each node state.
        num_layers (int, optional): Number of iterations. (default: :obj:`3`)
        bias (bool, optional): If set to :obj:`False`, the MLP and GRU learn no additive bias.
            (default: :obj:`True`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** node states :math:`(|\mathcal{V}|, F)`, edge indices
          :math:`(2, |\mathcal{E}|)` (subject, object)
        - **output:** node states :math:`(|\mathcal{V}|, F)`
    """
    def __init__(self, channels: int, num_layers: int = 3, bias: bool = True, **kwargs):
        kwargs.setdefault('aggr', 'mean')
        kwargs.setdefault('flow', 'target_to_source')  # aggregate over out-neighbours
        super().__init__(**kwargs)

        self.channels = channels
        self.num_layers = num_layers
        self.bias = bias

        self.mlp = Sequential(Linear(channels, channels, bias=bias), ReLU(),
                              Linear(channels, channels, bias=bias), ReLU())
        self.rnn = GRUCell(channels, channels, bias=bias)

        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        reset(self.mlp)
        reset(self.rnn)

    def forward(self, x: Tensor, edge_index: Adj) -> Tensor:
        for _ in range(self.num_layers):
            # propagate_type: (x: Tensor)
            m = self.propagate(edge_index, x=x)
            x = self.rnn(self.mlp(m), x)
        return x

    def message(self, x_j: Tensor) -> Tensor:
        return x_j

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.channels}, num_layers={self.num_layers})'
