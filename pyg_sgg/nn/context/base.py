"""The call contract shared by all context encoders (Motifs, VCTree, IMP, Transformer).

Every encoder is called as::

    out = encoder(x, pos, obj_dist, edge_index, batch, obj_labels=None)

* ``x [N, D_in]`` RoI features; ``pos [N, 9]`` box geometry
  (:func:`pyg_sgg.nn.box_geometry.box_geometry`); ``obj_dist [N, C + 1]`` object class
  distribution (one-hot in PredCls, detector softmax otherwise);
* ``edge_index [2, E]`` candidate pairs (subject, object); ``batch [N]`` graph of each node;
* ``obj_labels [N]`` GT labels: in PredCls they are the output labels; encoders that decode
  labels sequentially (Motifs) may use them for teacher forcing in training.

and returns a :class:`ContextOutput`.

Every encoder derives from :class:`ContextEncoder`, which declares the output widths
(``out_channels`` of ``node_states``, ``edge_out_channels`` of ``edge_states`` or None), so
a model is assembled without a trial forward. Encoders that use the union-box features set
``uses_edge_attr = True`` and then also receive ``edge_attr [E, D_e]`` (aligned with
``edge_index``) as a keyword; encoders that need the boxes themselves (VCTree's overlap
statistics) set ``uses_boxes = True`` and receive ``boxes [N, 4]`` (xyxy pixels).
Encoders registered in ``CONTEXT_REGISTRY`` are constructed as ``cls(in_channels,
hidden_channels, num_classes, **options)`` (``num_classes`` = :math:`C + 1`);
``pyg_sgg.models.context_options`` names each one's options.
"""
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.typing import OptTensor

from ..box_geometry import BOX_GEOMETRY_DIM
from .registry import CONTEXT_REGISTRY

__all__ = ["CONTEXT_REGISTRY", "ContextOutput", "PairScores", "ContextEncoder",
           "box_mlp", "BatchNorm1dAnySize", "ONEHOT_FILL"]

#: PredCls object logits: +1000 at the label, -1000 elsewhere (SGB's ``to_onehot``).
ONEHOT_FILL = 1000.0


class PairScores(NamedTuple):
    """VCTree's pair scores of one forward, for its tree-score loss
    (:func:`pyg_sgg.models.losses.tree_score_loss`): ``logits [B, T, T]`` of the dense
    batch, ``mask [B, T]`` of real nodes, ``batch [N]`` and ``ptr [B]`` (first node of each
    graph)."""
    logits: Tensor
    mask: Tensor
    batch: Tensor
    ptr: Tensor


class ContextOutput(NamedTuple):
    """``node_states [N, H]``, ``obj_logits [N, C + 1]``, ``edge_states [E, H_e]`` or None,
    ``pair_scores`` (:class:`PairScores`, VCTree) or None, and ``obj_labels [N]``: the labels
    the encoder committed to and embedded in its edge context (SGB's ``obj_preds``, which
    its predictors index the frequency bias with), or None."""
    node_states: Tensor
    obj_logits: Tensor
    edge_states: Optional[Tensor] = None
    pair_scores: Optional[PairScores] = None
    obj_labels: Optional[Tensor] = None


class BatchNorm1dAnySize(torch.nn.BatchNorm1d):
    """``BatchNorm1d`` that normalises a training batch of 0 or 1 rows with its running
    statistics (as in eval mode) instead of failing; other batches as usual."""

    def forward(self, x: Tensor) -> Tensor:
        if self.training and x.size(0) <= 1:
            return torch.nn.functional.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0,
                self.eps)
        return super().forward(x)


def box_mlp(pos_channels: int, batch_norm: bool = False) -> torch.nn.Sequential:
    """The box-geometry embedding: SGB's Motifs / VCTree ``pos_embed`` with ``batch_norm``
    (``Linear(9, 32) → BatchNorm(momentum 0.001) → Linear(32, pos_channels) → ReLU``),
    else SGB's Transformer ``bbox_embed`` (``Linear(9, 32) → ReLU → Dropout(0.1) →
    Linear(32, pos_channels) → ReLU → Dropout(0.1)``)."""
    if batch_norm:
        return torch.nn.Sequential(torch.nn.Linear(BOX_GEOMETRY_DIM, 32),
                                   BatchNorm1dAnySize(32, momentum=0.001),
                                   torch.nn.Linear(32, pos_channels), torch.nn.ReLU())
    return torch.nn.Sequential(torch.nn.Linear(BOX_GEOMETRY_DIM, 32), torch.nn.ReLU(),
                               torch.nn.Dropout(0.1), torch.nn.Linear(32, pos_channels),
                               torch.nn.ReLU(), torch.nn.Dropout(0.1))


class ContextEncoder:
    """Mixin of every context encoder (listed before ``torch.nn.Module`` or
    ``MessagePassing`` in the bases): output widths, input checks, class-name embeddings and
    PredCls logits. Subclasses set ``in_channels``, ``hidden_channels`` and ``num_classes``.
    """
    #: Whether ``forward`` takes the union-box features ``edge_attr``.
    uses_edge_attr: bool = False
    #: Whether ``forward`` takes the boxes ``boxes [N, 4]`` (xyxy pixels).
    uses_boxes: bool = False
    in_channels: int
    hidden_channels: int
    num_classes: int

    @property
    def out_channels(self) -> int:
        """Width of ``node_states``."""
        return self.hidden_channels

    @property
    def edge_out_channels(self) -> Optional[int]:
        """Width of ``edge_states`` (None: the encoder has none)."""
        return None

    def register_class_embeddings(self, class_embeddings: Optional[Tensor],
                                  embed_dim: int) -> None:
        """Keep initial class-name embeddings ``[num_classes, embed_dim]`` as the
        non-persistent buffer ``class_embeddings`` (``None`` when not given)."""
        if class_embeddings is None:
            self.class_embeddings = None
            return
        class_embeddings = torch.as_tensor(class_embeddings, dtype=torch.float32)
        if tuple(class_embeddings.shape) != (self.num_classes, embed_dim):
            raise ValueError(f"{type(self).__name__}: 'class_embeddings' has shape "
                             f"{tuple(class_embeddings.shape)}, expected "
                             f"{(self.num_classes, embed_dim)}")
        self.register_buffer("class_embeddings", class_embeddings, persistent=False)

    def reset_class_embeddings(self, *embeddings: torch.nn.Embedding) -> None:
        """Initialise ``embeddings`` from the class-name vectors (random without them)."""
        for emb in embeddings:
            if self.class_embeddings is None:
                emb.reset_parameters()
            else:
                with torch.no_grad():
                    emb.weight.copy_(self.class_embeddings)

    def register_untreated(self, track: bool, width: int) -> None:
        """With ``track``, keep SGB's moving average (ratio 0.0005, updated in training) of
        the ``width``-wide edge-context input as the buffer ``untreated_edge_input``: the
        "untreated" input of the causal predictor's TDE counterfactual."""
        self.track_untreated = bool(track)
        self.average_ratio = 0.0005  # SGB
        if self.track_untreated:
            self.register_buffer("untreated_edge_input", torch.zeros(width))

    def check_untreated(self, average_edge_input: bool) -> None:
        """One line if the untreated input is asked of an encoder that does not track it."""
        if average_edge_input and not self.track_untreated:
            raise ValueError(f"{type(self).__name__}: average_edge_input needs "
                             f"track_untreated=True")

    def untreated_or_factual(self, factual: Tensor, rows: Tensor,
                             average_edge_input: bool) -> Tensor:
        """The edge-context input ``factual [..., width]`` as the encoder should use it:
        in training its ``rows [N, width]`` (the real nodes) update the moving average; in
        eval with ``average_edge_input`` the average replaces every row."""
        if self.track_untreated and self.training:
            with torch.no_grad():
                r = self.average_ratio
                self.untreated_edge_input.mul_(1 - r).add_(r * rows.detach().mean(0))
        if average_edge_input and not self.training:
            return self.untreated_edge_input.expand_as(factual)
        return factual

    def check_inputs(self, x: Tensor, pos: Tensor, obj_dist: Tensor,
                     obj_labels: OptTensor = None) -> None:
        """One-line errors naming the class and the argument for malformed inputs."""
        name, n = type(self).__name__, x.size(0)
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(f"{name}: 'x' has shape {tuple(x.shape)}, expected "
                             f"(N, {self.in_channels})")
        if tuple(pos.shape) != (n, BOX_GEOMETRY_DIM):
            raise ValueError(f"{name}: 'pos' has shape {tuple(pos.shape)}, expected "
                             f"({n}, {BOX_GEOMETRY_DIM})")
        if obj_dist is not None and tuple(obj_dist.shape) != (n, self.num_classes):
            raise ValueError(f"{name}: 'obj_dist' has shape {tuple(obj_dist.shape)}, "
                             f"expected ({n}, {self.num_classes})")
        if obj_labels is not None:
            if tuple(obj_labels.shape) != (n,):
                raise ValueError(f"{name}: 'obj_labels' has shape "
                                 f"{tuple(obj_labels.shape)}, expected ({n},)")
            if n > 0 and (int(obj_labels.min()) < 0 or
                          int(obj_labels.max()) >= self.num_classes):
                raise ValueError(f"{name}: 'obj_labels' must lie in "
                                 f"[0, {self.num_classes - 1}]")

    @staticmethod
    def is_predcls(obj_dist: Tensor, obj_labels: OptTensor) -> bool:
        """PredCls iff labels are given and ``obj_dist`` is exactly their one-hot (a
        detector softmax never underflows to an exact one-hot in practice)."""
        if obj_labels is None:
            return False
        onehot = F.one_hot(obj_labels.long(), obj_dist.size(1)).to(obj_dist.dtype)
        return torch.equal(obj_dist, onehot)

    @staticmethod
    def onehot_logits(obj_dist: Tensor) -> Tensor:
        """PredCls object logits from a one-hot ``obj_dist``: :math:`\\pm 1000`."""
        return obj_dist * (2 * ONEHOT_FILL) - ONEHOT_FILL
