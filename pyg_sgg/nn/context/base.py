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
"""
from typing import NamedTuple, Optional

from torch import Tensor

from ...registry import Registry

CONTEXT_REGISTRY = Registry("context encoder")


class ContextOutput(NamedTuple):
    """``node_states [N, H]``, ``obj_logits [N, C + 1]``, ``edge_states [E, H_e]`` or None."""
    node_states: Tensor
    obj_logits: Tensor
    edge_states: Optional[Tensor] = None
