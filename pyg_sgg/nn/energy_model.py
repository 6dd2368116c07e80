"""The graph energy model of the energy-based SGG paper."""
from typing import Optional

import torch
from torch import Tensor
from torch.nn import Linear, ReLU, Sequential

from torch_geometric.nn.dense import Linear as PygLinear
from torch_geometric.nn.inits import reset
from torch_geometric.nn.norm import BatchNorm
from torch_geometric.typing import OptTensor

from .box_geometry import BOX_GEOMETRY_DIM
from .edge_gnn import EdgeGNN
from .gated_pooling import GatedPooling
from .image_graph_ggnn import ImageGraphGGNN


class EnergyModel(torch.nn.Module):
    r"""The energy :math:`E_\theta(I, SG)` of the `"Energy-Based Learning for Scene Graph
    Generation" <https://arxiv.org/abs/2103.02221>`_ paper (``GraphEnergyModel``): one scalar
    per (image graph, scene graph) pair.

    .. math::
        \mathbf{z}_{im} &= \mathrm{Pool}_{im}\big(\mathrm{GGNN}(\mathbf{W}_{im}\mathbf{x}^{im},
        \mathcal{E})\big)

        \mathbf{z}_{sg} &= \mathrm{Pool}_{sg}\big(\mathrm{EGNN}(\mathbf{W}_{n}
        [\mathbf{x}^{sg} \,\Vert\, \mathrm{pos}(\mathbf{g})],\ \mathcal{E},\
        \mathbf{W}_e \mathbf{e}^{sg})\big)

        E &= \mathbf{w}^\top \mathrm{ReLU}(\mathbf{W}[\mathbf{z}_{im} \,\Vert\,
        \mathbf{z}_{sg}] + \mathbf{b}) + c

    with :math:`\mathrm{pos} = \mathrm{Linear}(9, 32), \mathrm{BatchNorm}, \mathrm{Linear}(32,
    P), \mathrm{ReLU}` on the 9-d box geometry :math:`\mathbf{g}`
    (:func:`~pyg_sgg.nn.box_geometry.box_geometry`), the GGNN
    :class:`~pyg_sgg.nn.image_graph_ggnn.ImageGraphGGNN`, the EGNN
    :class:`~pyg_sgg.nn.edge_gnn.EdgeGNN` and raw-gated
    :class:`~pyg_sgg.nn.gated_pooling.GatedPooling`. All sparse over :obj:`edge_index`.

    Args:
        img_channels (int): Size of each image-graph node feature (RoI feature); ``-1``
            infers it at the first call (lazy, as PyG's ``Linear``).
        node_channels (int): Size of each scene-graph node state (:math:`C + 1`), or ``-1``.
        edge_channels (int): Size of each scene-graph edge state (:math:`P + 1`), or ``-1``.
        hidden_channels (int, optional): Size of all hidden states. (default: :obj:`512`)
        pos_channels (int, optional): Size :math:`P` of the box-geometry embedding.
            (default: :obj:`128`)
        num_img_layers (int, optional): GGNN iterations. (default: :obj:`3`)
        num_sg_layers (int, optional): EGNN iterations. (default: :obj:`3`)
        alpha (float, optional): EGNN node-to-node weight. (default: :obj:`0.5`)
        softmax_pooling (bool, optional): Softmax gates in the pooling instead of the paper's
            raw gates. (default: :obj:`False`)
        image_graph (bool, optional): If set to :obj:`False`, the paper's ablation: no image
            branch, :math:`E = \mathbf{w}^\top \mathrm{ReLU}(\mathbf{W}\mathbf{z}_{sg} +
            \mathbf{b}) + c` (``x_img`` is ignored). (default: :obj:`True`)

    Shapes:
        - **input:** image-graph node features :math:`(N, F_{im})`, scene-graph node states
          :math:`(N, C + 1)`, box geometry :math:`(N, 9)`, edge indices :math:`(2, E)`,
          edge states :math:`(E, P + 1)`, batch vector :math:`(N)`, optionally the
          precomputed :meth:`image_embedding` :math:`(B, H)`
        - **output:** energies :math:`(B)`
    """
    def __init__(self, img_channels: int, node_channels: int, edge_channels: int,
                 hidden_channels: int = 512, pos_channels: int = 128,
                 num_img_layers: int = 3, num_sg_layers: int = 3, alpha: float = 0.5,
                 softmax_pooling: bool = False, image_graph: bool = True):
        super().__init__()
        self.img_channels = img_channels
        self.node_channels = node_channels
        self.edge_channels = edge_channels
        self.hidden_channels = hidden_channels
        self.pos_channels = pos_channels
        self.image_graph = image_graph
        H = hidden_channels

        self.img_embed = self.img_gnn = self.img_pool = None
        if image_graph:
            self.img_embed = PygLinear(img_channels, H)
            self.img_gnn = ImageGraphGGNN(H, num_layers=num_img_layers)
            self.img_pool = GatedPooling(H, H, softmax=softmax_pooling)
        self.pos_embed = Sequential(
            Linear(BOX_GEOMETRY_DIM, 32),
            BatchNorm(32, momentum=0.001, allow_single_element=True),
            Linear(32, pos_channels), ReLU())
        self.node_embed = PygLinear(
            -1 if node_channels < 0 else node_channels + pos_channels, H)
        self.edge_embed = PygLinear(edge_channels, H)
        self.sg_gnn = EdgeGNN(H, H, num_layers=num_sg_layers, alpha=alpha)
        self.sg_pool = GatedPooling(H, H, edge_channels=H, softmax=softmax_pooling)
        self.head = Sequential(Linear((2 if image_graph else 1) * H, H), ReLU(), Linear(H, 1))

        self.reset_parameters()

    def reset_parameters(self):
        for module in (self.img_embed, self.pos_embed, self.node_embed, self.edge_embed,
                       self.img_gnn, self.sg_gnn, self.img_pool, self.sg_pool, self.head):
            if module is not None:
                reset(module)

    def image_embedding(self, x_img: Tensor, edge_index: Tensor, batch: Tensor,
                        num_graphs: int) -> Tensor:
        r"""``[B, H]`` pooled image-graph states :math:`\mathbf{z}_{im}` (``[B, 0]`` without
        the image graph); they do not depend on the scene-graph states, so a sampler moving
        those may compute them once and pass them to :meth:`forward` as ``z_img``."""
        if not self.image_graph:
            return x_img.new_zeros(num_graphs, 0)
        h_img = self.img_gnn(self.img_embed(x_img), edge_index)
        return self.img_pool(h_img, batch, dim_size=num_graphs)

    def forward(self, x_img: Tensor, x_sg: Tensor, pos: Tensor, edge_index: Tensor,
                edge_attr: Tensor, batch: OptTensor = None,
                num_graphs: Optional[int] = None, z_img: OptTensor = None) -> Tensor:
        N = x_sg.size(0)
        for name, t, width in (('x_img', x_img, self.img_channels),
                               ('x_sg', x_sg, self.node_channels), ('pos', pos, BOX_GEOMETRY_DIM)):
            if name == 'x_img' and not self.image_graph:
                continue
            if t.dim() != 2 or t.size(0) != N or (width > 0 and t.size(1) != width):
                raise ValueError(f"EnergyModel: '{name}' must be [{N}, {width}], "
                                 f"got {list(t.shape)}")
        if edge_attr.dim() != 2 or (self.edge_channels > 0 and
                                    edge_attr.size(1) != self.edge_channels):
            raise ValueError(f"EnergyModel: 'edge_attr' must be [E, {self.edge_channels}], "
                             f"got {list(edge_attr.shape)}")
        if batch is None:
            batch = edge_index.new_zeros(N)
        if num_graphs is None:
            num_graphs = int(batch.max()) + 1 if N > 0 else 1
        edge_batch = batch[edge_index[0]]

        if z_img is None:
            z_img = self.image_embedding(x_img, edge_index, batch, num_graphs)

        h = self.node_embed(torch.cat([x_sg, self.pos_embed(pos)], dim=-1))
        h, e = self.sg_gnn(h, edge_index, self.edge_embed(edge_attr))
        z_sg = self.sg_pool(h, batch, e, edge_batch, dim_size=num_graphs)

        return self.head(torch.cat([z_img, z_sg], dim=-1)).view(-1)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.img_channels}, {self.node_channels}, '
                f'{self.edge_channels}, hidden_channels={self.hidden_channels})')
