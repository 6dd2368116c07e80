"""Relation classifier on candidate pairs: subject/object projections of the context, union
features, pair geometry and the frequency bias."""
from typing import Optional

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor
from torch_geometric.nn.inits import reset

from .box_geometry import box_intersection
from .freq_bias import FrequencyBias

PAIR_GEOMETRY_DIM = 25


def pair_geometry(pos: Tensor, edge_index: Tensor) -> Tensor:
    """Geometry of each (subject, object) pair from per-box geometry ``pos``.

    ``[pos_s (9), pos_o (9), dx, dy, log dw, log dh, IoU, inter/area_s, inter/area_o]``
    with ``dx = (cx_o - cx_s) / w_s``, ``dy = (cy_o - cy_s) / h_s``,
    ``dw = w_o / w_s``, ``dh = h_o / h_s`` (scale-free in the normalised coordinates).

    Args:
        pos (Tensor): ``[N, 9]`` from :func:`pyg_sgg.nn.box_geometry.box_geometry`.
        edge_index (Tensor): ``[2, E]``.

    Returns:
        Tensor: ``[E, 25]``.
    """
    s, o = pos[edge_index[0]], pos[edge_index[1]]
    eps = 1e-6
    ws, hs = s[:, 0].clamp(min=eps), s[:, 1].clamp(min=eps)
    wo, ho = o[:, 0].clamp(min=eps), o[:, 1].clamp(min=eps)
    dx, dy = (o[:, 2] - s[:, 2]) / ws, (o[:, 3] - s[:, 3]) / hs
    inter, _, _ = box_intersection(s[:, 4:8], o[:, 4:8])
    area_s, area_o = ws * hs, wo * ho
    iou = inter / (area_s + area_o - inter).clamp(min=eps)
    delta = torch.stack([dx, dy, torch.log(wo / ws), torch.log(ho / hs), iou,
                         inter / area_s, inter / area_o], dim=-1)
    return torch.cat([s, o, delta], dim=-1)


class RelationHead(torch.nn.Module):
    r"""Scores every candidate pair, as the Motifs / Transformer predictors of SGB:

    .. math::
        \mathbf{c}_{ij} &= \mathbf{W}_p [\mathbf{W}_s \mathbf{h}_i \| \mathbf{W}_o
        \mathbf{h}_j]

        \mathbf{r}_{ij} &= \mathbf{W}_c \mathbf{c}_{ij} + \mathbf{W}_r \big(\mathbf{c}_{ij}
        \odot \mathrm{ReLU}(\mathbf{W}_u \mathbf{u}_{ij}) + \mathrm{MLP}(\mathbf{g}_{ij})
        \big) + \mathbf{W}_e \mathbf{e}_{ij} + \mathbf{b}_{c_i c_j}

    with context node states :math:`\mathbf{h}`, union-box features :math:`\mathbf{u}`
    (``edge_attr``), pair geometry :math:`\mathbf{g}` (:func:`pair_geometry`), context
    edge states :math:`\mathbf{e}` (IMP) and the :class:`FrequencyBias` :math:`\mathbf{b}`.
    Each term is optional; with ``node_channels=0`` and no other input the head is the
    frequency baseline.

    Args:
        node_channels (int): context node-state size :math:`H` (``0``: no visual term).
        num_predicates (int): predicates including background, :math:`P + 1`.
        num_classes (int): object classes including background, :math:`C + 1`.
        hidden_channels (int): pair representation size. (default: ``512``)
        edge_channels (int, optional): union-feature size (``None``: unused).
            (default: :obj:`None`)
        edge_state_channels (int, optional): context edge-state size (``None``: unused).
            (default: :obj:`None`)
        use_geometry (bool): add the pair-geometry MLP. (default: :obj:`True`)
        use_freq_bias (bool): add the frequency bias. (default: :obj:`True`)
        pred_dist (Tensor, optional): ``[C + 1, C + 1, P + 1]`` frequency-bias init.
            (default: :obj:`None`)
        dropout (float): dropout on the pair representation. (default: ``0.0``)

    Shapes:
        - **input:** node states :math:`(N, H)`, edge indices :math:`(2, E)`, ``edge_attr``
          :math:`(E, D_u)`, ``pos`` :math:`(N, 9)`, ``obj_labels`` :math:`(N)` or
          ``obj_dist`` :math:`(N, C + 1)`, ``edge_states`` :math:`(E, H_e)`
        - **output:** relation logits :math:`(E, P + 1)`
    """
    def __init__(self, node_channels: int, num_predicates: int, num_classes: int,
                 hidden_channels: int = 512, edge_channels: Optional[int] = None,
                 edge_state_channels: Optional[int] = None, use_geometry: bool = True,
                 use_freq_bias: bool = True, pred_dist: Optional[Tensor] = None,
                 dropout: float = 0.0):
        super().__init__()
        self.node_channels = node_channels
        self.num_predicates = num_predicates
        self.num_classes = num_classes
        self.hidden_channels = hidden_channels
        self.edge_channels = edge_channels or None
        self.edge_state_channels = edge_state_channels or None
        self.use_geometry = use_geometry
        self.use_freq_bias = use_freq_bias
        self.dropout = dropout

        if node_channels:
            self.post_emb = torch.nn.Linear(node_channels, 2 * hidden_channels)
            self.post_cat = torch.nn.Linear(2 * hidden_channels, hidden_channels)
            self.ctx_lin = torch.nn.Linear(hidden_channels, num_predicates)
        else:
            self.post_emb = self.post_cat = self.ctx_lin = None
        self.union_lin = (torch.nn.Linear(self.edge_channels, hidden_channels)
                          if self.edge_channels else None)
        if use_geometry:
            self.geo_mlp = torch.nn.Sequential(
                torch.nn.Linear(PAIR_GEOMETRY_DIM, hidden_channels), torch.nn.ReLU(),
                torch.nn.Linear(hidden_channels, hidden_channels))
        else:
            self.geo_mlp = None
        self.rel_lin = (torch.nn.Linear(hidden_channels, num_predicates)
                        if self.edge_channels or use_geometry else None)
        self.edge_state_lin = (torch.nn.Linear(self.edge_state_channels, num_predicates)
                               if self.edge_state_channels else None)
        self.freq_bias = (FrequencyBias(num_classes, num_predicates, pred_dist)
                          if use_freq_bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        for module in (self.post_emb, self.post_cat, self.ctx_lin, self.union_lin, self.rel_lin,
                       self.edge_state_lin, self.freq_bias, self.geo_mlp):
            if module is not None:
                reset(module)

    def forward(self, node_states: Tensor, edge_index: Tensor, edge_attr: OptTensor = None,
                pos: OptTensor = None, obj_labels: OptTensor = None,
                obj_dist: OptTensor = None, edge_states: OptTensor = None) -> Tensor:
        sub, obj = edge_index[0], edge_index[1]
        out = node_states.new_zeros(edge_index.size(1), self.num_predicates)
        ctx = rep = None
        if self.post_emb is not None:
            head, tail = self.post_emb(node_states).chunk(2, dim=-1)
            ctx = self.post_cat(torch.cat([head[sub], tail[obj]], dim=-1))
            out = out + self.ctx_lin(
                torch.nn.functional.dropout(ctx, self.dropout, self.training))
        if self.union_lin is not None:
            rep = torch.relu(self._need(edge_attr, "edge_attr", self.union_lin))
            rep = rep * ctx if ctx is not None else rep
        if self.geo_mlp is not None:
            if pos is None:
                raise ValueError("RelationHead: pos is required when "
                                 "use_geometry=True")
            geo = self.geo_mlp(pair_geometry(pos, edge_index))
            rep = geo if rep is None else rep + geo
        if rep is not None:
            rep = torch.nn.functional.dropout(rep, self.dropout, self.training)
            out = out + self.rel_lin(rep)
        if self.edge_state_lin is not None:
            out = out + self._need(edge_states, "edge_states", self.edge_state_lin)
        if self.freq_bias is not None:
            out = out + self.freq_bias.for_pairs(edge_index, obj_labels, obj_dist)
        return out

    @staticmethod
    def _need(value: OptTensor, name: str, lin: torch.nn.Module) -> Tensor:
        if value is None:
            raise ValueError(f"RelationHead: {name} is required by this "
                             f"head's configuration")
        return lin(value)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.node_channels}, {self.num_predicates}, "
                f"num_classes={self.num_classes}, freq_bias={self.use_freq_bias})")
