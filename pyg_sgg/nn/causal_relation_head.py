"""SGB's causal relation predictor ('sum' fusion) and its total direct effect (TDE)."""
from typing import NamedTuple, Optional

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from .freq_bias import FrequencyBias


class CausalBranches(NamedTuple):
    """The three ``[E, P + 1]`` logit branches of :class:`CausalRelationHead`."""
    vis: Tensor
    ctx: Tensor
    frq: Tensor


class CausalRelationHead(torch.nn.Module):
    r"""The relation predictor of `"Unbiased Scene Graph Generation from Biased Training"
    <https://arxiv.org/abs/2002.11949>`_ (Tang et al., CVPR 2020) as SGB's
    ``CausalAnalysisPredictor`` with ``FUSION_TYPE 'sum'``:

    .. math::
        \mathbf{r}_{ij} = \underbrace{\mathbf{W}_v \mathbf{u}_{ij}}_{vis}
        + \underbrace{\mathbf{W}_c\,\mathrm{ReLU}\big(\mathbf{W}_p [\mathbf{W}_s
        \mathbf{h}_i \| \mathbf{W}_o \mathbf{h}_j]\big)}_{ctx} + \underbrace{\mathbf{b}_{c_i
        c_j}}_{frq}

    with context node states :math:`\mathbf{h}`, union features :math:`\mathbf{u}` and the
    :class:`FrequencyBias` :math:`\mathbf{b}`. Training adds SGB's auxiliary cross-entropies
    on each branch alone (:meth:`branches`). The total direct effect of the context
    (``EFFECT_TYPE 'TDE'``) is :math:`\mathbf{r}(\mathbf{h}) - \mathbf{r}(\bar{\mathbf{h}})`
    with :math:`\bar{\mathbf{h}}` the context computed from the averaged ("untreated")
    encoder input; with 'sum' fusion the visual and frequency branches cancel, so
    :meth:`tde` is :math:`ctx(\mathbf{h}) - ctx(\bar{\mathbf{h}})`.

    Initialisation as SGB: :math:`\mathbf{W}_s, \mathbf{W}_o` normal with std
    :math:`10 / \sqrt{H}`, the others Xavier-normal, biases 0.

    Args:
        node_channels (int): context node-state size :math:`H`.
        num_predicates (int): predicates including background, :math:`P + 1`.
        num_classes (int): object classes including background, :math:`C + 1`.
        edge_channels (int): union-feature size :math:`D_u` (SGB: the box head's width).
        hidden_channels (int, optional): pair representation size (SGB's
            ``CONTEXT_POOLING_DIM``); ``None`` = ``edge_channels``. (default: :obj:`None`)
        pred_dist (Tensor, optional): ``[C + 1, C + 1, P + 1]`` frequency-bias init.

    Shapes:
        - **input:** node states :math:`(N, H)`, edge indices :math:`(2, E)`, ``edge_attr``
          :math:`(E, D_u)`, ``obj_labels`` :math:`(N)` or ``obj_dist`` :math:`(N, C + 1)`
        - **output:** relation logits :math:`(E, P + 1)`
    """
    def __init__(self, node_channels: int, num_predicates: int, num_classes: int,
                 edge_channels: int, hidden_channels: Optional[int] = None,
                 pred_dist: Optional[Tensor] = None):
        super().__init__()
        self.node_channels = node_channels
        self.num_predicates = num_predicates
        self.num_classes = num_classes
        self.edge_channels = edge_channels
        self.hidden_channels = hidden_channels or edge_channels
        H = node_channels
        self.post_emb = torch.nn.Linear(H, 2 * H)
        self.post_cat = torch.nn.Linear(2 * H, self.hidden_channels)
        self.ctx_compress = torch.nn.Linear(self.hidden_channels, num_predicates)
        self.vis_compress = torch.nn.Linear(edge_channels, num_predicates)
        self.freq_bias = FrequencyBias(num_classes, num_predicates, pred_dist)
        self.reset_parameters()

    def reset_parameters(self):
        torch.nn.init.normal_(self.post_emb.weight, std=10.0 * self.node_channels ** -0.5)
        for lin in (self.post_cat, self.ctx_compress, self.vis_compress):
            torch.nn.init.xavier_normal_(lin.weight)
        for lin in (self.post_emb, self.post_cat, self.ctx_compress, self.vis_compress):
            torch.nn.init.zeros_(lin.bias)
        self.freq_bias.reset_parameters()

    def context_logits(self, node_states: Tensor, edge_index: Tensor) -> Tensor:
        """The ``ctx`` branch ``[E, P + 1]``."""
        head, tail = self.post_emb(node_states).chunk(2, dim=-1)
        pair = torch.cat([head[edge_index[0]], tail[edge_index[1]]], dim=-1)
        return self.ctx_compress(torch.relu(self.post_cat(pair)))

    def branches(self, node_states: Tensor, edge_index: Tensor, edge_attr: Tensor,
                 obj_labels: OptTensor = None, obj_dist: OptTensor = None) -> CausalBranches:
        """The three branches; SGB trains each alone too (``auxiliary_vis / ctx / frq``)."""
        if edge_attr is None:
            raise ValueError("CausalRelationHead: edge_attr (union features) is required")
        frq = self.freq_bias.for_pairs(edge_index, obj_labels, obj_dist)
        return CausalBranches(self.vis_compress(edge_attr),
                              self.context_logits(node_states, edge_index), frq)

    def forward(self, node_states: Tensor, edge_index: Tensor, edge_attr: OptTensor = None,
                obj_labels: OptTensor = None, obj_dist: OptTensor = None) -> Tensor:
        b = self.branches(node_states, edge_index, edge_attr, obj_labels, obj_dist)
        return b.vis + b.ctx + b.frq

    def tde(self, node_states: Tensor, untreated_node_states: Tensor,
            edge_index: Tensor) -> Tensor:
        """Total direct effect ``[E, P + 1]`` of the context: the logits with the factual
        minus those with the untreated context (vis and frq cancel under 'sum' fusion)."""
        return (self.context_logits(node_states, edge_index)
                - self.context_logits(untreated_node_states, edge_index))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.node_channels}, {self.num_predicates}, "
                f"num_classes={self.num_classes}, edge_channels={self.edge_channels})")
