"""What a scene graph model returns for a :class:`~torch_geometric.data.Batch`."""
from dataclasses import dataclass, field
from typing import Dict, Optional

from torch import Tensor


@dataclass
class SGGOutput:
    """Per-batch outputs of :class:`~pyg_sgg.models.SceneGraphModel`.

    Shapes (``N`` nodes, ``E`` scored pairs of ``batch.edge_index``, ``C`` object classes,
    ``P`` predicates; column 0 is background in both logit tensors):

    * ``obj_logits [N, C + 1]`` refined object logits (one-hot-like in PredCls);
    * ``rel_logits [E, P + 1]`` relation logits, row ``e`` scores ``batch.edge_index[:, e]``;
    * ``obj_labels [N]`` predicted labels (GT in PredCls); ``obj_scores [N]`` their scores
      (1 in PredCls);
    * ``node_features [N, D]`` the RoI features the model consumed (for EBM's image graph);
    * ``extras`` anything else a method may want (e.g. context states).
    """
    obj_logits: Tensor
    rel_logits: Tensor
    obj_labels: Tensor
    obj_scores: Tensor
    node_features: Optional[Tensor] = None
    extras: Dict[str, Tensor] = field(default_factory=dict)
