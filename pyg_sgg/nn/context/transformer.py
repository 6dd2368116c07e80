"""Transformer context encoder (self-attention among the objects of each image)."""
from typing import Optional

import torch
from torch import Tensor
from torch_geometric.nn.inits import reset
from torch_geometric.typing import OptTensor
from torch_geometric.utils import to_dense_batch

from ..label_nms import nms_labels
from .base import CONTEXT_REGISTRY, ContextEncoder, ContextOutput, box_mlp
from .sgb_transformer_layer import SGBEncoderLayer


@CONTEXT_REGISTRY.register("transformer")
class TransformerContext(ContextEncoder, torch.nn.Module):
    r"""Object and edge context by self-attention within each image: SGB's
    ``TransformerContext`` (the Transformer model of `"Unbiased Scene Graph Generation from
    Biased Training" <https://arxiv.org/abs/2002.11949>`_, Tang et al., 2020).

    .. math::
        \mathbf{h}^{0}_i &= \mathbf{W}_o [\mathbf{x}_i \| \mathbf{p}_i^\top \mathbf{E}_1
        \| \mathrm{MLP}(\mathbf{b}_i)], \qquad \mathbf{H} = \mathrm{Enc}_{obj}
        (\mathbf{H}^0), \qquad \mathbf{z}_i = \mathbf{W}_c \mathbf{h}_i

        \mathbf{g}^{0}_i &= \mathbf{W}_e [\mathbf{x}_i \| \mathbf{h}_i \|
        \mathbf{E}_2[\hat{c}_i]], \qquad \mathbf{G} = \mathrm{Enc}_{edge}(\mathbf{G}^0)

    where :math:`\mathrm{Enc}` are stacks of SGB's encoder layers
    (:class:`~pyg_sgg.nn.context.sgb_transformer_layer.SGBEncoderLayer`) applied per image
    (dense batch with a key padding mask, so attention never crosses images),
    :math:`\mathbf{p}_i` the object class distribution, :math:`\mathbf{b}_i` the box
    geometry (SGB's ``bbox_embed``, with its dropout) and :math:`\hat{c}_i` the GT label in
    PredCls (whose object logits are SGB's :math:`\pm 1000` one-hot), else
    :math:`\arg\max \mathbf{z}_i` over the foreground classes — in training too, as SGB
    (with ``nms_threshold``, at test SGB's label NMS). No positional encoding: the layer is
    equivariant to node order.

    Args:
        in_channels (int): RoI feature size :math:`D`.
        hidden_channels (int): model width :math:`H` (SGB: 512).
        num_classes (int): object classes including background, :math:`C + 1`.
        embed_dim (int): class embedding size. (default: ``200``)
        num_obj_layers (int): object-context layers. (default: ``4``)
        num_edge_layers (int): edge-context layers. (default: ``2``)
        heads (int): attention heads. (default: ``8``)
        key_channels (int): per-head key / query width. (default: ``64``)
        value_channels (int): per-head value width. (default: ``64``)
        inner_channels (int): feed-forward width. (default: ``2048``)
        dropout (float): dropout in the encoder layers. (default: ``0.1``)
        class_embeddings (Tensor, optional): ``[C + 1, embed_dim]`` initial class
            embeddings (e.g. :func:`~pyg_sgg.data.word_embeddings.class_name_embeddings`).
            (default: :obj:`None`)
        nms_threshold (float): label-NMS IoU for the predicted labels at test (``0``: off;
            SGDet: SGB's ``LATER_NMS_PREDICTION_THRES``). (default: ``0.0``)

    Shapes:
        - **input:** node features :math:`(N, D)`, ``pos`` :math:`(N, 9)`, ``obj_dist``
          :math:`(N, C + 1)`, edge indices :math:`(2, E)` (unused), batch vector
          :math:`(N)`, ``obj_labels`` :math:`(N)` (optional)
        - **output:** :class:`ContextOutput` with node states :math:`(N, H)`, object logits
          :math:`(N, C + 1)`, edge states :obj:`None`, the embedded labels :math:`(N)`
    """
    def __init__(self, in_channels: int, hidden_channels: int, num_classes: int,
                 embed_dim: int = 200, num_obj_layers: int = 4, num_edge_layers: int = 2,
                 heads: int = 8, key_channels: int = 64, value_channels: int = 64,
                 inner_channels: int = 2048, dropout: float = 0.1,
                 class_embeddings: Optional[Tensor] = None, nms_threshold: float = 0.0):
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.num_obj_layers = num_obj_layers
        self.num_edge_layers = num_edge_layers
        self.heads = heads
        self.dropout = dropout
        self.nms_threshold = nms_threshold
        self.register_class_embeddings(class_embeddings, embed_dim)

        self.obj_embed = torch.nn.Embedding(num_classes, embed_dim)
        self.edge_embed = torch.nn.Embedding(num_classes, embed_dim)
        self.pos_mlp = box_mlp(128)
        self.obj_lin = torch.nn.Linear(in_channels + embed_dim + 128, hidden_channels)
        self.edge_lin = torch.nn.Linear(in_channels + hidden_channels + embed_dim,
                                        hidden_channels)

        def layer():
            return SGBEncoderLayer(hidden_channels, inner_channels, heads, key_channels,
                                   value_channels, dropout)

        self.obj_layers = torch.nn.ModuleList(layer() for _ in range(num_obj_layers))
        self.edge_layers = torch.nn.ModuleList(layer() for _ in range(num_edge_layers))
        self.obj_out = torch.nn.Linear(hidden_channels, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        self.reset_class_embeddings(self.obj_embed, self.edge_embed)
        for module in (self.obj_lin, self.edge_lin, self.obj_out, self.pos_mlp):
            reset(module)
        for layer in list(self.obj_layers) + list(self.edge_layers):
            layer.reset_parameters()

    @staticmethod
    def _encode(h: Tensor, batch: Tensor, layers: torch.nn.ModuleList,
                batch_size: int) -> Tensor:
        dense, mask = to_dense_batch(h, batch, batch_size=batch_size)
        real = mask.clone()
        # keep slot 0 attendable so that rows of empty graphs never softmax over nothing
        mask[:, 0] = True
        for layer in layers:
            dense = layer(dense, mask)
        return dense[real]

    def forward(self, x: Tensor, pos: Tensor, obj_dist: Tensor,
                edge_index: OptTensor = None, batch: OptTensor = None,
                obj_labels: OptTensor = None, edge_attr: OptTensor = None) -> ContextOutput:
        self.check_inputs(x, pos, obj_dist, obj_labels)
        if batch is None:
            batch = x.new_zeros(x.size(0), dtype=torch.long)
        num_nodes = x.size(0)
        if num_nodes == 0:
            return ContextOutput(x.new_zeros(0, self.hidden_channels),
                                 x.new_zeros(0, self.num_classes))
        batch_size = int(batch.max()) + 1
        obj_dist = obj_dist.to(x.dtype)

        obj_embed = obj_dist @ self.obj_embed.weight
        h = self.obj_lin(torch.cat([x, obj_embed, self.pos_mlp(pos)], dim=-1))
        h = self._encode(h, batch, self.obj_layers, batch_size)
        obj_logits = self.obj_out(h)

        if self.is_predcls(obj_dist, obj_labels):
            labels = obj_labels.long()
            obj_logits = self.onehot_logits(obj_dist)
        elif self.nms_threshold > 0 and not self.training:
            labels = nms_labels(torch.softmax(obj_logits, dim=-1), pos[:, 4:8], batch,
                                self.nms_threshold)
        else:
            labels = obj_logits[:, 1:].argmax(dim=-1) + 1
        g = self.edge_lin(torch.cat([x, h, self.edge_embed(labels)], dim=-1))
        g = self._encode(g, batch, self.edge_layers, batch_size)
        return ContextOutput(g, obj_logits, obj_labels=labels)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"num_classes={self.num_classes}, num_obj_layers={self.num_obj_layers}, "
                f"num_edge_layers={self.num_edge_layers}, heads={self.heads})")
