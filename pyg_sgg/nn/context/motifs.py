"""Motifs context encoder (object and edge context BiLSTMs over ordered objects)."""
from typing import Optional

import torch
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch_geometric.nn.inits import reset
from torch_geometric.typing import OptTensor
from torch_geometric.utils import to_dense_batch

from ..label_nms import nms_labels
from .base import CONTEXT_REGISTRY, ContextEncoder, ContextOutput, box_mlp
from .highway_decoder import HighwayLSTMDecoder

ORDERS = ("leftright", "confidence", "size", "random")


def order_nodes(order: str, pos: Tensor, obj_dist: Tensor, batch: Tensor) -> Tensor:
    """Permutation that groups nodes by graph and sorts each graph's nodes by ``order``:
    ``"leftright"`` (box centre x, largest first: SGB's ``sort_rois`` puts higher scores
    first, so its "leftright" sequence runs from right to left), ``"confidence"`` (max
    foreground probability descending), ``"size"`` (box area descending) or ``"random"``.
    Ties keep input order."""
    if order == "leftright":
        key = -pos[:, 2]
    elif order == "confidence":
        key = -obj_dist[:, 1:].max(dim=-1).values
    elif order == "size":
        key = -pos[:, 8]
    else:
        key = torch.rand(pos.size(0), device=pos.device)
    perm = torch.argsort(key, stable=True)
    return perm[torch.argsort(batch[perm], stable=True)]


def run_lstm(lstm: torch.nn.LSTM, dense: Tensor, lengths: Tensor) -> Tensor:
    """Run ``lstm`` (``batch_first``) on padded sequences ``[B, T, F]`` of ``lengths [B]``;
    padded steps are skipped (empty sequences give zeros)."""
    packed = pack_padded_sequence(dense, lengths.clamp(min=1).cpu(), batch_first=True,
                                  enforce_sorted=False)
    out, _ = lstm(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=dense.size(1))
    return out


@CONTEXT_REGISTRY.register("motifs")
class MotifsContext(ContextEncoder, torch.nn.Module):
    r"""Object and edge context of `"Neural Motifs: Scene Graph Parsing with Global
    Context" <https://arxiv.org/abs/1711.06640>`_ (Zellers et al., CVPR 2018), as in SGB.

    The objects of each image are sorted (by box centre x by default, SGB's "leftright"
    order, which runs from right to left) and encoded by bidirectional LSTMs:

    .. math::
        \mathbf{o}_i &= \mathbf{W}_o\,\mathrm{BiLSTM}_{obj}\big([\mathbf{x}_i \|
        \mathbf{p}_i^\top \mathbf{E}_1 \| \mathrm{MLP}(\mathbf{b}_i)]\big)_i

        \mathbf{z}_t &= \mathrm{Decoder}\big([\mathbf{x}_t \|
        \mathbf{p}_t^\top \mathbf{E}_1 \| \mathrm{MLP}(\mathbf{b}_t) \| \mathbf{o}_t],
        \hat{c}_{t-1}\big), \qquad \hat{c}_t = 1 + \arg\max_{c \geq 1} z_{t,c}

        \mathbf{h}_i &= \mathbf{W}_e\,\mathrm{BiLSTM}_{edge}\big([\mathbf{E}_2[\hat{c}_i]
        \| \mathbf{o}_i \| \mathbf{x}_i]\big)_i

    with :math:`\mathbf{p}_i` the object class distribution and :math:`\mathbf{b}_i` the
    box geometry, and the decoder SGB's highway LSTM
    (:class:`~pyg_sgg.nn.context.highway_decoder.HighwayLSTMDecoder`). Object labels
    :math:`\hat{c}`:

    * **PredCls** (``obj_labels`` given and ``obj_dist`` exactly their one-hot): the GT
      labels; no decoding; ``obj_logits`` are :math:`\pm 1000` one-hot logits.
    * **SGCls / SGDet, training with** ``obj_labels``: teacher forcing, :math:`\hat{c}` =
      the GT label, or the decoder's prediction where the label is background (SGDet).
    * **otherwise** (test): greedy decoding.

    The decoder steps along the sorted objects of all images at once.

    Sequences per image come from :func:`~torch_geometric.utils.to_dense_batch` and
    packed LSTMs, so images never interact. With ``nms_threshold`` (SGDet at test, as SGB's
    decoder with ``boxes_for_nms``) the greedy labels go through SGB's label NMS
    (:func:`~pyg_sgg.nn.label_nms.nms_labels`, class-agnostic boxes, IoU of the normalised
    boxes in ``pos``) before the edge context embeds them.

    Args:
        in_channels (int): RoI feature size :math:`D`.
        hidden_channels (int): LSTM and output width :math:`H`.
        num_classes (int): object classes including background, :math:`C + 1`.
        embed_dim (int): class embedding size. (default: ``200``)
        order (str): ``"leftright"``, ``"confidence"``, ``"size"`` or ``"random"``.
            (default: ``"leftright"``)
        dropout (float): SGB's ``CONTEXT_DROPOUT_RATE``: the decoder's recurrent dropout
            and dropout between stacked LSTM layers; no dropout on the LSTM inputs, as SGB.
            (default: ``0.2``)
        num_obj_layers (int): object-context BiLSTM layers. (default: ``1``)
        num_edge_layers (int): edge-context BiLSTM layers. (default: ``1``)
        pos_channels (int): width of the box-geometry MLP. (default: ``128``)
        class_embeddings (Tensor, optional): ``[C + 1, embed_dim]`` initial class
            embeddings (e.g. :func:`~pyg_sgg.data.word_embeddings.class_name_embeddings`);
            random if :obj:`None`. (default: :obj:`None`)
        nms_threshold (float): label-NMS IoU for decoded labels at test (``0``: off; the
            model sets SGB's ``LATER_NMS_PREDICTION_THRES`` in SGDet). (default: ``0.0``)
        track_untreated (bool): keep SGB's moving average (ratio 0.0005, updated in
            training) of the edge-context input ``[E_2[c] || x]``, the "untreated" input of
            the TDE counterfactual (Motifs-TDE): ``forward(..., average_edge_input=True)`` in
            eval mode replaces that part of every node's edge input by it; the object
            context stays factual, as in SGB's ``LSTMContext(ctx_average=True)``.
            (default: :obj:`False`)

    Shapes:
        - **input:** node features :math:`(N, D)`, ``pos`` :math:`(N, 9)`, ``obj_dist``
          :math:`(N, C + 1)`, edge indices :math:`(2, E)` (unused), batch vector
          :math:`(N)` (sorted), ``obj_labels`` :math:`(N)` (optional)
        - **output:** :class:`ContextOutput` with node states :math:`(N, H)`, object logits
          :math:`(N, C + 1)`, edge states :obj:`None`
    """
    def __init__(self, in_channels: int, hidden_channels: int, num_classes: int,
                 embed_dim: int = 200, order: str = "leftright", dropout: float = 0.2,
                 num_obj_layers: int = 1, num_edge_layers: int = 1, pos_channels: int = 128,
                 class_embeddings: Optional[Tensor] = None, nms_threshold: float = 0.0,
                 track_untreated: bool = False):
        super().__init__()
        if order not in ORDERS:
            raise ValueError(f"MotifsContext: 'order' must be one of {ORDERS}, got {order!r}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.order = order
        self.dropout = dropout
        self.num_obj_layers = num_obj_layers
        self.num_edge_layers = num_edge_layers
        self.pos_channels = pos_channels
        self.nms_threshold = float(nms_threshold)
        self.register_class_embeddings(class_embeddings, embed_dim)

        H = hidden_channels
        obj_in = in_channels + embed_dim + pos_channels
        self.obj_embed = torch.nn.Embedding(num_classes, embed_dim)
        self.edge_embed = torch.nn.Embedding(num_classes, embed_dim)
        self.pos_mlp = box_mlp(pos_channels, batch_norm=True)  # SGB pos_embed
        lstm_drop = dropout if num_obj_layers > 1 else 0.0
        self.obj_rnn = torch.nn.LSTM(obj_in, H, num_layers=num_obj_layers, batch_first=True,
                                     bidirectional=True, dropout=lstm_drop)
        self.obj_lin = torch.nn.Linear(2 * H, H)
        self.decoder = HighwayLSTMDecoder(obj_in + H, H, num_classes, embed_dim, dropout)
        edge_drop = dropout if num_edge_layers > 1 else 0.0
        self.edge_rnn = torch.nn.LSTM(embed_dim + H + in_channels, H,
                                      num_layers=num_edge_layers, batch_first=True,
                                      bidirectional=True, dropout=edge_drop)
        self.edge_lin = torch.nn.Linear(2 * H, H)
        self.register_untreated(track_untreated, embed_dim + in_channels)
        self.reset_parameters()

    def reset_parameters(self):
        self.reset_class_embeddings(self.obj_embed, self.decoder.embed, self.edge_embed)
        for module in (self.pos_mlp, self.obj_rnn, self.obj_lin, self.decoder,
                       self.edge_rnn, self.edge_lin):
            reset(module)

    def forward(self, x: Tensor, pos: Tensor, obj_dist: Tensor,
                edge_index: OptTensor = None, batch: OptTensor = None,
                obj_labels: OptTensor = None, edge_attr: OptTensor = None,
                average_edge_input: bool = False) -> ContextOutput:
        self.check_inputs(x, pos, obj_dist, obj_labels)
        self.check_untreated(average_edge_input)
        num_nodes = x.size(0)
        if num_nodes == 0:
            return ContextOutput(x.new_zeros(0, self.hidden_channels),
                                 x.new_zeros(0, self.num_classes))
        if batch is None:
            batch = x.new_zeros(num_nodes, dtype=torch.long)
        batch_size = int(batch.max()) + 1
        obj_dist = obj_dist.to(x.dtype)
        predcls = self.is_predcls(obj_dist, obj_labels)

        perm = order_nodes(self.order, pos, obj_dist, batch)
        batch_p = batch[perm]

        def dense(t: Tensor, fill=0.0) -> Tensor:
            return to_dense_batch(t[perm], batch_p, fill_value=fill,
                                  batch_size=batch_size)[0]

        obj_in = torch.cat([x, obj_dist @ self.obj_embed.weight, self.pos_mlp(pos)], dim=-1)
        obj_in = dense(obj_in)
        mask = to_dense_batch(perm, batch_p, batch_size=batch_size)[1]
        lengths = mask.sum(dim=1)
        obj_ctx = run_lstm(self.obj_rnn, obj_in, lengths)
        obj_ctx = self.obj_lin(obj_ctx)  # [B, T, H]

        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(num_nodes, device=perm.device)
        if predcls:
            labels = dense(obj_labels.long(), 0)
            obj_logits = self.onehot_logits(obj_dist)
        else:
            forced = dense(obj_labels.long(), 0) if (
                self.training and obj_labels is not None) else None
            logits, labels = self.decoder(torch.cat([obj_in, obj_ctx], dim=-1), forced)
            obj_logits = logits[mask][inv]
            if forced is None and self.nms_threshold > 0:
                nms = nms_labels(torch.softmax(obj_logits, dim=-1), pos[:, 4:8], batch,
                                 self.nms_threshold)
                labels = dense(nms, 0)

        factual = torch.cat([self.edge_embed(labels), dense(x)], dim=-1)  # [B, T, E + D]
        factual = self.untreated_or_factual(factual, factual[mask], average_edge_input)
        E = self.embed_dim
        edge_in = torch.cat([factual[..., :E], obj_ctx, factual[..., E:]], dim=-1)
        edge_ctx = run_lstm(self.edge_rnn, edge_in, lengths)
        node_states = self.edge_lin(edge_ctx)[mask][inv]
        return ContextOutput(node_states, obj_logits, obj_labels=labels[mask][inv])

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"num_classes={self.num_classes}, order='{self.order}')")
