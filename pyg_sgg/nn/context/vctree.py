"""VCTree context encoder (dynamic tree: pair scores -> spanning tree -> Tree-LSTMs)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.inits import reset
from torch_geometric.typing import OptTensor
from torch_geometric.utils import to_dense_batch

from ..box_geometry import box_iou
from .base import CONTEXT_REGISTRY, ContextEncoder, ContextOutput, PairScores, box_mlp
from .spanning_tree import binary_tree, maximum_spanning_tree
from .tree_lstm import BiTreeLSTM

def _pair_geometry(pos: Tensor) -> Tensor:
    """Symmetric pair features ``[B, T, T, 3]`` (``|dcx|``, ``|dcy|``, IoU) from dense
    box geometry ``[B, T, 9]``."""
    cx, cy = pos[..., 2], pos[..., 3]
    xyxy = pos[..., 4:8]
    iou = box_iou(xyxy[:, :, None], xyxy[:, None], eps=1e-9)
    return torch.stack([(cx[:, :, None] - cx[:, None]).abs(),
                        (cy[:, :, None] - cy[:, None]).abs(), iou], dim=-1)


@CONTEXT_REGISTRY.register("vctree")
class VCTreeContext(ContextEncoder, torch.nn.Module):
    r"""Dynamic tree context of `"Learning to Compose Dynamic Tree Structures for Visual
    Contexts" <https://arxiv.org/abs/1812.01880>`_ (Tang et al., CVPR 2019), as in SGB.

    Per image, a symmetric pair score
    :math:`s_{ij} = \mathrm{MLP}([\mathbf{u}_i \odot \mathbf{u}_j \| \mathbf{g}_{ij}])`
    (:math:`\mathbf{u}_i` from the detached object inputs, :math:`\mathbf{g}_{ij}` = centre
    distances and IoU) gives a maximum spanning tree (batched Prim, root = node of largest
    summed :math:`\sigma(s_{ij})`), turned into a binary tree (left child = first child,
    right child = next sibling). Two bidirectional Tree-LSTMs
    (:class:`~pyg_sgg.nn.context.tree_lstm.BiTreeLSTM`) then give

    .. math::
        \mathbf{o}_i &= \mathbf{W}_o\,\mathrm{BiTreeLSTM}_{obj}\big([\mathbf{x}_i \|
        \mathbf{p}_i^\top \mathbf{E}_1 \| \mathrm{MLP}(\mathbf{b}_i)]\big)_i, \qquad
        \mathbf{z}_i = \mathbf{W}_c\,\mathbf{o}_i

        \mathbf{h}_i &= \mathbf{W}_e\,\mathrm{BiTreeLSTM}_{edge}\big([\mathbf{E}_2
        [\hat{c}_i] \| \mathbf{o}_i \| \mathbf{x}_i]\big)_i

    with :math:`\hat{c}_i` the GT label (PredCls, or SGCls/SGDet training with
    ``obj_labels``), else :math:`1 + \arg\max_{c \geq 1} z_{i,c}`. In PredCls
    (``obj_labels`` given and ``obj_dist`` exactly their one-hot) ``obj_logits`` are
    :math:`\pm 1000` one-hot logits.

    The tree is discrete, so the score network learns only from the auxiliary loss
    (VCTree's supervised option): the output's ``pair_scores`` go to
    :func:`pyg_sgg.models.losses.tree_score_loss` with the related pairs, the binary
    cross-entropy of all :math:`s_{ij}` (:math:`i \neq j`, same image) against "a GT
    relation links :math:`i` and :math:`j` (either direction)".

    Args:
        in_channels (int): RoI feature size :math:`D`.
        hidden_channels (int): Tree-LSTM and output width :math:`H`.
        num_classes (int): object classes including background, :math:`C + 1`.
        embed_dim (int): class embedding size. (default: ``200``)
        dropout (float): dropout on the Tree-LSTM inputs. (default: ``0.2``)
        pos_channels (int): width of the box-geometry MLP. (default: ``128``)
        score_channels (int): width of the pair-score network. (default: ``128``)
        class_embeddings (Tensor, optional): ``[C + 1, embed_dim]`` initial class
            embeddings; random if :obj:`None`. (default: :obj:`None`)
        track_untreated (bool): keep SGB's moving average (ratio 0.0005, updated in
            training) of the edge-context input ``[E_2[c] || x]``, the "untreated" input of
            the TDE counterfactual: ``forward(..., average_edge_input=True)`` in eval mode
            replaces that part of every node's edge input by it. (default: :obj:`False`)

    Shapes:
        - **input:** node features :math:`(N, D)`, ``pos`` :math:`(N, 9)`, ``obj_dist``
          :math:`(N, C + 1)`, edge indices :math:`(2, E)` (unused), batch vector
          :math:`(N)` (sorted), ``obj_labels`` :math:`(N)` (optional)
        - **output:** :class:`ContextOutput` with node states :math:`(N, H)`, object logits
          :math:`(N, C + 1)`, edge states :obj:`None`, ``pair_scores``
          (:class:`~pyg_sgg.nn.context.base.PairScores`)
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_classes: int,
                 embed_dim: int = 200, dropout: float = 0.2, pos_channels: int = 128,
                 score_channels: int = 128, class_embeddings: Optional[Tensor] = None,
                 track_untreated: bool = False):
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.dropout = dropout
        self.pos_channels = pos_channels
        self.score_channels = score_channels
        self.register_class_embeddings(class_embeddings, embed_dim)

        H = hidden_channels
        obj_in = in_channels + embed_dim + pos_channels
        self.obj_embed = torch.nn.Embedding(num_classes, embed_dim)
        self.edge_embed = torch.nn.Embedding(num_classes, embed_dim)
        self.pos_mlp = box_mlp(pos_channels, batch_norm=True)  # SGB pos_embed
        self.score_lin = torch.nn.Linear(obj_in, score_channels)
        self.score_out = torch.nn.Sequential(
            torch.nn.Linear(score_channels + 3, score_channels), torch.nn.ReLU(),
            torch.nn.Linear(score_channels, 1))
        self.obj_tree = BiTreeLSTM(obj_in, H)
        self.obj_lin = torch.nn.Linear(2 * H, H)
        self.obj_out = torch.nn.Linear(H, num_classes)
        self.edge_tree = BiTreeLSTM(embed_dim + H + in_channels, H)
        self.edge_lin = torch.nn.Linear(2 * H, H)
        self.register_untreated(track_untreated, embed_dim + in_channels)
        self.reset_parameters()

    def reset_parameters(self):
        self.reset_class_embeddings(self.obj_embed, self.edge_embed)
        for module in (self.pos_mlp, self.score_lin, self.score_out, self.obj_tree,
                       self.obj_lin, self.obj_out, self.edge_tree, self.edge_lin):
            reset(module)

    def forward(self, x: Tensor, pos: Tensor, obj_dist: Tensor,
                edge_index: OptTensor = None, batch: OptTensor = None,
                obj_labels: OptTensor = None, edge_attr: OptTensor = None,
                average_edge_input: bool = False) -> ContextOutput:
        self.check_inputs(x, pos, obj_dist, obj_labels)
        self.check_untreated(average_edge_input)
        num_nodes = x.size(0)
        if batch is None:
            batch = x.new_zeros(num_nodes, dtype=torch.long)
        if num_nodes == 0:
            empty = PairScores(x.new_zeros(0, 0, 0), torch.zeros(0, 0, dtype=torch.bool,
                                                                 device=x.device), batch, batch)
            return ContextOutput(x.new_zeros(0, self.hidden_channels),
                                 x.new_zeros(0, self.num_classes), None, empty)
        if batch.shape != (num_nodes,) or bool((batch[1:] < batch[:-1]).any()):
            raise ValueError(f"VCTreeContext: 'batch' must be a sorted vector of shape "
                             f"({num_nodes},)")
        batch_size = int(batch.max()) + 1
        obj_dist = obj_dist.to(x.dtype)
        predcls = self.is_predcls(obj_dist, obj_labels)

        obj_in = torch.cat([x, obj_dist @ self.obj_embed.weight, self.pos_mlp(pos)], dim=-1)

        # pair scores -> maximum spanning tree -> binary tree
        u, mask = to_dense_batch(torch.relu(self.score_lin(obj_in.detach())), batch,
                                 batch_size=batch_size)
        geo = _pair_geometry(to_dense_batch(pos, batch, batch_size=batch_size)[0])
        pair_logits = self.score_out(torch.cat([u[:, :, None] * u[:, None], geo],
                                               dim=-1)).squeeze(-1)  # [B, T, T]
        counts = mask.sum(dim=1)
        ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)[:-1]])
        scores = PairScores(pair_logits, mask, batch, ptr)
        parent, step, _ = maximum_spanning_tree(torch.sigmoid(pair_logits.detach()), mask)
        parent = torch.where(parent >= 0, parent + ptr[:, None], parent)[mask]
        left, right = binary_tree(parent, step[mask])

        obj_ctx = self.obj_tree(F.dropout(obj_in, self.dropout, self.training), left, right)
        obj_ctx = self.obj_lin(obj_ctx)
        if predcls:
            obj_logits = self.onehot_logits(obj_dist)
            labels = obj_labels.long()
        else:
            obj_logits = self.obj_out(obj_ctx)
            if self.training and obj_labels is not None:
                labels = obj_labels.long()
            else:
                labels = obj_logits[:, 1:].argmax(dim=-1) + 1

        factual = torch.cat([self.edge_embed(labels), x], dim=-1)
        factual = self.untreated_or_factual(factual, factual, average_edge_input)
        E = self.embed_dim
        edge_in = torch.cat([factual[:, :E], obj_ctx, factual[:, E:]], dim=-1)
        edge_ctx = self.edge_tree(F.dropout(edge_in, self.dropout, self.training), left,
                                  right)
        return ContextOutput(self.edge_lin(edge_ctx), obj_logits, None, scores)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"num_classes={self.num_classes})")
