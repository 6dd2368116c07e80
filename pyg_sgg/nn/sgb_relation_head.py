"""SGB's relation predictors (Motifs, VCTree, Transformer, IMP) after their context layers."""
from typing import Optional

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from .freq_bias import FrequencyBias

#: The predictor forms of :class:`SGBRelationHead`, named after SGB's predictors.
SGB_HEAD_FORMS = ("motifs", "vctree", "transformer", "imp")


class SGBRelationHead(torch.nn.Module):
    r"""The part of Scene-Graph-Benchmark's ``MotifPredictor``, ``VCTreePredictor``,
    ``TransformerPredictor`` and ``IMPPredictor`` that follows the context layer:

    .. math::
        \mathbf{c}_{ij} &= \mathbf{W}_p [\phi(\mathbf{W}_s \mathbf{h}_i) \|
        \phi(\mathbf{W}_o \mathbf{h}_j)]

        \mathbf{r}_{ij} &= \mathbf{W}_r (\mathbf{c}_{ij} \odot \mathbf{U} \mathbf{u}_{ij})
        + \mathbf{b}_{c_i c_j} \quad (\texttt{motifs}, \texttt{vctree})

        \mathbf{r}_{ij} &= \mathbf{W}_r (\mathbf{c}_{ij} \odot \mathbf{U} \mathbf{u}_{ij})
        + \mathbf{W}_c [\mathbf{W}_s \mathbf{h}_i \| \mathbf{W}_o \mathbf{h}_j]
        + \mathbf{b}_{c_i c_j} \quad (\texttt{transformer})

        \mathbf{r}_{ij} &= \mathbf{W}_e \mathbf{e}_{ij} \quad (\texttt{imp})

    with context node states :math:`\mathbf{h}`, union features :math:`\mathbf{u}`
    (``edge_attr``; :math:`\mathbf{U}` is SGB's ``up_dim`` linear map when their width
    differs from ``pooling_channels``, else the identity; without union features, SGB's
    ``PREDICT_USE_VISION False``, the product is skipped), :math:`\phi` = ReLU for
    ``vctree`` and the identity otherwise, IMP's edge states :math:`\mathbf{e}` and the
    :class:`FrequencyBias` :math:`\mathbf{b}` indexed by the labels the context committed to
    (SGB's ``obj_preds``). SGB's ``IMPPredictor`` has no frequency bias. No dropout.
    Initialisation as SGB: :math:`\mathbf{W}_s, \mathbf{W}_o` normal with std
    :math:`10 / \sqrt{H}`, the other maps Xavier-normal, biases 0 (IMP's edge map: PyTorch's
    default, as SGB's ``rel_fc``).

    Args:
        form (str): ``"motifs"``, ``"vctree"``, ``"transformer"`` or ``"imp"``.
        node_channels (int): context node-state size :math:`H`.
        num_predicates (int): predicates including background, :math:`P + 1`.
        num_classes (int): object classes including background, :math:`C + 1`.
        edge_channels (int, optional): union-feature size :math:`D_u` (``None``: no union
            features). (default: :obj:`None`)
        pooling_channels (int): pair representation size (SGB's ``CONTEXT_POOLING_DIM``).
            (default: ``512``)
        edge_state_channels (int, optional): IMP's edge-state size (``imp`` only).
            (default: :obj:`None`)
        use_freq_bias (bool): add the frequency bias (not ``imp``). (default: :obj:`True`)
        pred_dist (Tensor, optional): ``[C + 1, C + 1, P + 1]`` frequency-bias init.
            (default: :obj:`None`)

    Shapes:
        - **input:** node states :math:`(N, H)`, edge indices :math:`(2, E)`, ``edge_attr``
          :math:`(E, D_u)`, ``obj_labels`` :math:`(N)` or ``obj_dist`` :math:`(N, C + 1)`,
          ``edge_states`` :math:`(E, H_e)` (``imp``)
        - **output:** relation logits :math:`(E, P + 1)`
    """
    def __init__(self, form: str, node_channels: int, num_predicates: int, num_classes: int,
                 edge_channels: Optional[int] = None, pooling_channels: int = 512,
                 edge_state_channels: Optional[int] = None, use_freq_bias: bool = True,
                 pred_dist: Optional[Tensor] = None):
        super().__init__()
        if form not in SGB_HEAD_FORMS:
            raise ValueError(f"SGBRelationHead: form '{form}' is not one of {SGB_HEAD_FORMS}")
        if form == "imp" and not edge_state_channels:
            raise ValueError("SGBRelationHead: form 'imp' needs edge_state_channels")
        self.form = form
        self.node_channels = node_channels
        self.num_predicates = num_predicates
        self.num_classes = num_classes
        self.edge_channels = edge_channels or None
        self.pooling_channels = pooling_channels
        self.edge_state_channels = edge_state_channels
        H, P = node_channels, num_predicates
        self.post_emb = self.post_cat = self.rel_compress = None
        self.ctx_compress = self.up_dim = self.edge_lin = self.freq_bias = None
        if form == "imp":
            self.edge_lin = torch.nn.Linear(edge_state_channels, P)
        else:
            self.post_emb = torch.nn.Linear(H, 2 * H)
            self.post_cat = torch.nn.Linear(2 * H, pooling_channels)
            self.rel_compress = torch.nn.Linear(pooling_channels, P)
            if form == "transformer":
                self.ctx_compress = torch.nn.Linear(2 * H, P)
            if self.edge_channels and self.edge_channels != pooling_channels:
                self.up_dim = torch.nn.Linear(self.edge_channels, pooling_channels)
            if use_freq_bias:
                self.freq_bias = FrequencyBias(num_classes, num_predicates, pred_dist)
        self.reset_parameters()

    def reset_parameters(self):
        if self.edge_lin is not None:
            self.edge_lin.reset_parameters()
            return
        torch.nn.init.normal_(self.post_emb.weight, std=10.0 * self.node_channels ** -0.5)
        for lin in (self.post_cat, self.rel_compress, self.ctx_compress, self.up_dim):
            if lin is not None:
                torch.nn.init.xavier_normal_(lin.weight)
        for lin in (self.post_emb, self.post_cat, self.rel_compress, self.ctx_compress,
                    self.up_dim):
            if lin is not None:
                torch.nn.init.zeros_(lin.bias)
        if self.freq_bias is not None:
            self.freq_bias.reset_parameters()

    def forward(self, node_states: Tensor, edge_index: Tensor, edge_attr: OptTensor = None,
                obj_labels: OptTensor = None, obj_dist: OptTensor = None,
                edge_states: OptTensor = None, **unused) -> Tensor:
        """Relation logits ``[E, P + 1]``; other keywords of the model's head call (``pos``)
        are not used by SGB's predictors."""
        if self.form == "imp":
            if edge_states is None:
                raise ValueError("SGBRelationHead: form 'imp' needs edge_states")
            return self.edge_lin(edge_states)
        sub, obj = edge_index[0], edge_index[1]
        rep = self.post_emb(node_states)
        if self.form == "vctree":
            rep = torch.relu(rep)
        head, tail = rep.chunk(2, dim=-1)
        pair = torch.cat([head[sub], tail[obj]], dim=-1)
        gate = self.post_cat(pair)
        if self.edge_channels:
            if edge_attr is None:
                raise ValueError("SGBRelationHead: edge_attr (union features) is required "
                                 "by this head's configuration")
            gate = gate * (self.up_dim(edge_attr) if self.up_dim is not None else edge_attr)
        out = self.rel_compress(gate)
        if self.ctx_compress is not None:
            out = out + self.ctx_compress(pair)
        if self.freq_bias is not None:
            out = out + self.freq_bias.for_pairs(edge_index, obj_labels, obj_dist)
        return out

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}('{self.form}', {self.node_channels}, "
                f"{self.num_predicates}, num_classes={self.num_classes})")
