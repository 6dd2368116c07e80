"""VCTree context encoder (dynamic tree: pair scores -> spanning tree -> Tree-LSTMs), as SGB
codes it."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.inits import reset
from torch_geometric.typing import OptTensor
from torch_geometric.utils import to_dense_batch

from ..box_geometry import box_intersection, box_iou
from .base import (CONTEXT_REGISTRY, BatchNorm1dAnySize, ContextEncoder, ContextOutput,
                   PairScores, box_mlp)
from .spanning_tree import binary_tree, maximum_spanning_tree
from .tree_lstm import BiTreeLSTM, TreeLSTMDecoder

#: SGB's ``get_overlap_info`` normalises areas by a 1024-pixel image side.
OVERLAP_SCALE = 1024.0


def overlap_features(boxes: Tensor, mask: Tensor) -> Tensor:
    """SGB's ``get_overlap_info`` of dense boxes ``[B, T, 4]`` (pixels, ``mask [B, T]``):
    per box the number of boxes it intersects (itself included), their summed intersection
    area / 1024², the summed IoU, the two sums per intersecting box, and its area / 1024²
    (``[B, T, 6]``; "+1" pixel convention except for the area, as SGB)."""
    pair = mask[:, :, None] & mask[:, None, :]
    inter, _, _ = box_intersection(boxes[:, :, None], boxes[:, None], plus_one=True)
    inter = inter * pair
    iou = box_iou(boxes[:, :, None], boxes[:, None], plus_one=True, eps=1e-9) * pair
    count = (inter > 0).sum(-1, keepdim=True).to(boxes.dtype)
    area_sum = inter.sum(-1, keepdim=True) / OVERLAP_SCALE ** 2
    iou_sum = iou.sum(-1, keepdim=True)
    area = ((boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1]))[..., None]
    return torch.cat([count, area_sum, iou_sum, area_sum / (count + 1e-9),
                      iou_sum / (count + 1e-9), area / OVERLAP_SCALE ** 2], dim=-1)


def _embed128(in_channels: int) -> torch.nn.Sequential:
    """``Linear(in, 128) → BatchNorm(momentum 0.001) → ReLU`` (SGB's ``box_embed`` /
    ``overlap_embed``)."""
    return torch.nn.Sequential(torch.nn.Linear(in_channels, 128),
                               BatchNorm1dAnySize(128, momentum=0.001), torch.nn.ReLU())


def _stack(in_channels: int, out_channels: int, layers: int, dropout: float):
    """SGB's ``MultiLayer_BTreeLSTM``: each layer's recurrent dropout at ``dropout`` when
    two or more layers are stacked, none for a single layer (SGB passes the rate only then)."""
    drop = dropout if layers > 1 else 0.0
    return torch.nn.ModuleList(
        [BiTreeLSTM(in_channels if k == 0 else out_channels, out_channels, drop)
         for k in range(layers)])


@CONTEXT_REGISTRY.register("vctree")
class VCTreeContext(ContextEncoder, torch.nn.Module):
    r"""Dynamic tree context of `"Learning to Compose Dynamic Tree Structures for Visual
    Contexts" <https://arxiv.org/abs/1812.01880>`_ (Tang et al., CVPR 2019) as SGB codes it
    (``VCTreeLSTMContext``).

    **Tree.** Per image, from the detached RoI features and class embeddings, the box
    geometry and SGB's overlap statistics (:func:`overlap_features`),
    :math:`\mathbf{v}_i = \mathrm{ReLU}(\mathbf{W}[\mathbf{R}_x\mathbf{x}_i \|
    \mathbf{R}_e\mathbf{p}_i^\top\mathbf{E}_1 \| \mathrm{MLP}(\mathbf{b}_i) \|
    \mathrm{MLP}(\mathbf{ov}_i)])`, subject / object views :math:`\mathbf{s}_i, \mathbf{t}_i`
    (ReLU layers) and the class co-occurrence prior
    :math:`q_{ij} = \mathbf{p}_i^\top \mathbf{Q}\, \mathbf{p}_j` (:math:`\mathbf{Q}`
    initialised from the frequency statistics, ``pred_dist`` summed over predicates and
    symmetrised; trainable), the pair logit is

    .. math::
        \ell_{ij} = \sigma\big(\mathbf{w}^\top[\mathbf{s}_j \odot \mathbf{t}_i \|
        \mathbf{s}_j \| \mathbf{t}_i \| q_{ij}] + b\big)\, q_{ij}

    and :math:`\sigma(\ell_{ij})` the score of hanging :math:`j` under :math:`i`: the root is
    the node of largest mean score, then Prim's algorithm adds the best (tree node, outside
    node) pair (:func:`~pyg_sgg.nn.context.maximum_spanning_tree`), and the tree becomes a
    binary one (left child = first child, right child = next sibling).

    **Context.** Two highway :class:`~pyg_sgg.nn.context.tree_lstm.BiTreeLSTM` stacks:
    :math:`\mathbf{o}_i = \mathrm{BiTreeLSTM}_{obj}([\mathbf{x}_i \|
    \mathbf{p}_i^\top\mathbf{E}_1 \| \mathrm{MLP}(\mathbf{b}_i)])_i`, object labels
    :math:`\hat{c}` from the top-down
    :class:`~pyg_sgg.nn.context.tree_lstm.TreeLSTMDecoder` on
    :math:`[\mathbf{x}_i \| \mathbf{p}_i^\top\mathbf{E}_1 \| \mathrm{MLP}(\mathbf{b}_i) \|
    \mathbf{o}_i]` (SGCls / SGDet, training and test alike; the GT labels in PredCls), and
    node states :math:`\mathbf{h}_i = \mathrm{BiTreeLSTM}_{edge}([\mathbf{E}_2[\hat{c}_i] \|
    \mathbf{o}_i \| \mathbf{x}_i])_i`. In PredCls (``obj_labels`` given and ``obj_dist``
    exactly their one-hot) ``obj_logits`` are :math:`\pm 1000` one-hot logits.

    The tree is discrete, so the score network learns from SGB's auxiliary loss alone: the
    output's ``pair_scores`` (the logits :math:`\ell`) go to
    :func:`pyg_sgg.models.losses.tree_score_loss`.

    Args:
        in_channels (int): RoI feature size :math:`D`.
        hidden_channels (int): Tree-LSTM and output width :math:`H` (even).
        num_classes (int): object classes including background, :math:`C + 1`.
        embed_dim (int): class embedding size. (default: ``200``)
        dropout (float): SGB's ``CONTEXT_DROPOUT_RATE``: the decoder's recurrent dropout,
            and the encoders' when stacked. (default: ``0.2``)
        num_obj_layers (int): object-context Tree-LSTM layers. (default: ``1``)
        num_edge_layers (int): edge-context Tree-LSTM layers. (default: ``1``)
        pos_channels (int): width of the box-geometry MLP. (default: ``128``)
        class_embeddings (Tensor, optional): ``[C + 1, embed_dim]`` initial class
            embeddings; random if :obj:`None`. (default: :obj:`None`)
        pred_dist (Tensor, optional): ``[C + 1, C + 1, P + 1]`` log predicate distributions
            of the training statistics (the co-occurrence prior's initialisation; zeros,
            i.e. no prior, if :obj:`None`). (default: :obj:`None`)
        track_untreated (bool): keep SGB's moving average (ratio 0.0005, updated in
            training) of the edge-context input ``[E_2[c] || x]``, the "untreated" input of
            the TDE counterfactual: ``forward(..., average_edge_input=True)`` in eval mode
            replaces that part of every node's edge input by it. (default: :obj:`False`)

    Shapes:
        - **input:** node features :math:`(N, D)`, ``pos`` :math:`(N, 9)`, ``obj_dist``
          :math:`(N, C + 1)`, edge indices :math:`(2, E)` (unused), batch vector
          :math:`(N)` (sorted), ``obj_labels`` :math:`(N)` (optional), ``boxes``
          :math:`(N, 4)` (xyxy pixels of the model's input image, for the overlap
          statistics)
        - **output:** :class:`ContextOutput` with node states :math:`(N, H)`, object logits
          :math:`(N, C + 1)`, edge states :obj:`None`, ``pair_scores``
          (:class:`~pyg_sgg.nn.context.base.PairScores`)
    """
    uses_boxes = True

    def __init__(self, in_channels: int, hidden_channels: int, num_classes: int,
                 embed_dim: int = 200, dropout: float = 0.2, num_obj_layers: int = 1,
                 num_edge_layers: int = 1, pos_channels: int = 128,
                 class_embeddings: Optional[Tensor] = None,
                 pred_dist: Optional[Tensor] = None, track_untreated: bool = False):
        super().__init__()
        if hidden_channels % 2:
            raise ValueError(f"VCTreeContext: 'hidden_channels' must be even, got "
                             f"{hidden_channels}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.dropout = dropout
        self.pos_channels = pos_channels
        self.register_class_embeddings(class_embeddings, embed_dim)
        if pred_dist is not None:
            pred_dist = torch.as_tensor(pred_dist, dtype=torch.float32)
            if pred_dist.shape[:2] != (num_classes, num_classes):
                raise ValueError(f"VCTreeContext: 'pred_dist' has shape "
                                 f"{tuple(pred_dist.shape)}, expected ({num_classes}, "
                                 f"{num_classes}, P + 1)")
            co = pred_dist.sum(-1)
            self.register_buffer("co_occurrence", co + co.t(), persistent=False)
        else:
            self.co_occurrence = None

        H = hidden_channels
        obj_in = in_channels + embed_dim + pos_channels
        self.obj_embed = torch.nn.Embedding(num_classes, embed_dim)
        self.edge_embed = torch.nn.Embedding(num_classes, embed_dim)
        self.pos_mlp = box_mlp(pos_channels, batch_norm=True)  # SGB pos_embed
        # tree scores (SGB vctree_score_net)
        self.box_embed = _embed128(9)
        self.overlap_embed = _embed128(6)
        self.obj_reduce = torch.nn.Linear(in_channels, 128)
        self.emb_reduce = torch.nn.Linear(embed_dim, 128)
        self.score_pre = torch.nn.Linear(4 * 128, H)
        self.score_sub = torch.nn.Linear(H, H)
        self.score_obj = torch.nn.Linear(H, H)
        self.vision_prior = torch.nn.Linear(3 * H + 1, 1)
        self.freq_prior = torch.nn.Parameter(torch.empty(num_classes, num_classes))
        # context
        self.obj_tree = _stack(obj_in, H, num_obj_layers, dropout)
        self.decoder = TreeLSTMDecoder(obj_in + H, H, num_classes, embed_dim, dropout)
        self.edge_tree = _stack(embed_dim + H + in_channels, H, num_edge_layers, dropout)
        self.register_untreated(track_untreated, embed_dim + in_channels)
        self.reset_parameters()

    def reset_parameters(self):
        self.reset_class_embeddings(self.obj_embed, self.edge_embed, self.decoder.embed)
        for module in (self.pos_mlp, self.box_embed, self.overlap_embed, self.vision_prior,
                       self.obj_tree, self.decoder, self.edge_tree):
            reset(module)
        for lin in (self.obj_reduce, self.emb_reduce, self.score_pre, self.score_sub,
                    self.score_obj):
            torch.nn.init.xavier_normal_(lin.weight)
            torch.nn.init.zeros_(lin.bias)
        with torch.no_grad():
            if self.co_occurrence is None:
                self.freq_prior.zero_()
            else:
                self.freq_prior.copy_(self.co_occurrence)

    def pair_logits(self, x: Tensor, embed: Tensor, pos: Tensor, boxes: Tensor,
                    obj_dist: Tensor, batch: Tensor, batch_size: int):
        """SGB's ``vctree_score_net``: the pair logits :math:`\\ell` ``[B, T, T]`` and the
        node mask ``[B, T]`` of the dense batch."""
        boxes, mask = to_dense_batch(boxes.to(x.dtype), batch, batch_size=batch_size)
        overlap = overlap_features(boxes, mask)[mask]
        v = torch.cat([self.obj_reduce(x.detach()), self.emb_reduce(embed.detach()),
                       self.box_embed(pos), self.overlap_embed(overlap)], dim=-1)
        v = torch.relu(self.score_pre(v))
        sub = to_dense_batch(torch.relu(self.score_sub(v)), batch, batch_size=batch_size)[0]
        obj = to_dense_batch(torch.relu(self.score_obj(v)), batch, batch_size=batch_size)[0]
        dist = to_dense_batch(obj_dist, batch, batch_size=batch_size)[0]
        prior = dist @ self.freq_prior @ dist.transpose(1, 2)  # q_ij = p_i^T Q p_j
        H = self.hidden_channels
        w = self.vision_prior.weight.view(-1)
        vis = ((obj * w[:H]) @ sub.transpose(1, 2)  # s_j . (w1 * t_i)
               + (sub @ w[H:2 * H])[:, None, :] + (obj @ w[2 * H:3 * H])[:, :, None]
               + w[3 * H] * prior + self.vision_prior.bias)
        return torch.sigmoid(vis) * prior, mask

    @staticmethod
    def _run(stack: torch.nn.ModuleList, x: Tensor, left: Tensor, right: Tensor) -> Tensor:
        for layer in stack:
            x = layer(x, left, right)
        return x

    def forward(self, x: Tensor, pos: Tensor, obj_dist: Tensor,
                edge_index: OptTensor = None, batch: OptTensor = None,
                obj_labels: OptTensor = None, edge_attr: OptTensor = None,
                boxes: OptTensor = None, average_edge_input: bool = False) -> ContextOutput:
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
        if boxes is None or tuple(boxes.shape) != (num_nodes, 4):
            raise ValueError(f"VCTreeContext: 'boxes' of shape ({num_nodes}, 4) is required "
                             f"(the overlap statistics of the tree scores)")
        batch_size = int(batch.max()) + 1
        obj_dist = obj_dist.to(x.dtype)
        predcls = self.is_predcls(obj_dist, obj_labels)

        embed = obj_dist @ self.obj_embed.weight
        obj_in = torch.cat([x, embed, self.pos_mlp(pos)], dim=-1)

        # pair scores -> maximum spanning tree -> binary tree
        pair_logits, mask = self.pair_logits(x, embed, pos, boxes, obj_dist, batch,
                                             batch_size)
        counts = mask.sum(dim=1)
        ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)[:-1]])
        scores = PairScores(pair_logits, mask, batch, ptr)
        parent, step, _ = maximum_spanning_tree(torch.sigmoid(pair_logits.detach()), mask)
        parent = torch.where(parent >= 0, parent + ptr[:, None], parent)[mask]
        left, right = binary_tree(parent, step[mask])

        obj_ctx = self._run(self.obj_tree, obj_in, left, right)
        if predcls:
            obj_logits = self.onehot_logits(obj_dist)
            labels = obj_labels.long()
        else:
            obj_logits, labels = self.decoder(torch.cat([obj_in, obj_ctx], dim=-1), left,
                                              right)

        factual = torch.cat([self.edge_embed(labels), x], dim=-1)
        factual = self.untreated_or_factual(factual, factual, average_edge_input)
        E = self.embed_dim
        edge_in = torch.cat([factual[:, :E], obj_ctx, factual[:, E:]], dim=-1)
        node_states = self._run(self.edge_tree, edge_in, left, right)
        return ContextOutput(node_states, obj_logits, None, scores, labels)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"num_classes={self.num_classes})")
