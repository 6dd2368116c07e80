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

Encoders that use the union-box features set the class attribute ``uses_edge_attr = True``
and then also receive ``edge_attr [E, D_e]`` (aligned with ``edge_index``) as a keyword.

Construction (:func:`pyg_sgg.models.scene_graph_model.build_context`): the registered class
is called as ``cls(in_channels, hidden_channels, num_classes, **options)`` (``num_classes``
= :math:`C + 1`), where only the options the constructor names are passed:
``embed_dim``, ``dropout``, ``class_embeddings`` (``[C + 1, embed_dim]`` class-name vectors
or None), ``edge_channels`` (union-feature width), ``num_obj_layers``, ``num_edge_layers``,
``order`` / ``obj_order`` (``"leftright"``, ``"confidence"``, ``"size"``),
``num_iterations``, ``aggr``, ``heads``. The widths of ``node_states`` / ``edge_states``
are read from one probe forward, so any width works.
"""
from typing import NamedTuple, Optional

from torch import Tensor

from .registry import CONTEXT_REGISTRY

__all__ = ["CONTEXT_REGISTRY", "ContextOutput", "register_class_embeddings"]


class ContextOutput(NamedTuple):
    """``node_states [N, H]``, ``obj_logits [N, C + 1]``, ``edge_states [E, H_e]`` or None."""
    node_states: Tensor
    obj_logits: Tensor
    edge_states: Optional[Tensor] = None


def register_class_embeddings(module: "torch.nn.Module", class_embeddings: Optional[Tensor],
                              num_classes: int, embed_dim: int, file: str) -> None:
    """Store initial class-name embeddings ``[num_classes, embed_dim]`` as the non-persistent
    buffer ``module.class_embeddings`` (``None`` when not given); a wrong shape raises."""
    import torch
    if class_embeddings is None:
        module.class_embeddings = None
        return
    class_embeddings = torch.as_tensor(class_embeddings, dtype=torch.float32)
    if tuple(class_embeddings.shape) != (num_classes, embed_dim):
        raise ValueError(f"{file}: class_embeddings has shape {tuple(class_embeddings.shape)}, "
                         f"expected {(num_classes, embed_dim)}")
    module.register_buffer("class_embeddings", class_embeddings, persistent=False)
