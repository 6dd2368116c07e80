"""Candidate pairs and their targets for a batch of scene graphs, per task: all ordered pairs,
relation labels from the GT (PredCls / SGCls) or by IoU matching (SGDet), SGB's training
pair sampling and its SGDet overlap rule at test time."""
from typing import Optional

import torch

from ..data.scene_graph import all_pairs, node_counts, pair_labels
from .pair_sampler import sample_pairs, select_edges
from .sgdet_targets import overlap_mask, sgdet_targets

__all__ = ["prepare_batch"]


def prepare_batch(batch, mode: str, training: bool, *, pairs_per_image: int = 1024,
                  positive_fraction: float = 0.25, require_overlap: bool = True,
                  sgdet_iou_threshold: float = 0.5,
                  generator: Optional[torch.Generator] = None):
    """Candidate pairs and targets of ``batch`` for ``mode``, in place; returns ``batch``.

    * no ``edge_index``: all ordered pairs (only valid without union features);
    * ``edge_label`` from the GT relations (PredCls / SGCls) or by IoU matching
      (SGDet training, also sets ``node_target``);
    * training: sample ``pairs_per_image`` pairs per image (``<= 0``: all) with at most
      ``positive_fraction`` positives;
    * SGDet test: keep overlapping pairs only (``require_overlap``).

    Idempotent when not ``training``. ``generator`` drives the random choices.
    """
    if batch.get("edge_index") is None:
        batch.edge_index = all_pairs(node_counts(batch), batch.ptr)
    if mode == "sgdet":
        if training:
            sgdet_targets(batch, sgdet_iou_threshold, generator)
        else:
            if require_overlap:
                select_edges(batch, overlap_mask(batch))
            if batch.get("edge_label") is None:
                batch.edge_label = batch.edge_index.new_zeros(batch.edge_index.size(1))
    elif training or batch.get("edge_label") is None:
        batch.edge_label = pair_labels(batch.edge_index, batch.gt_rel_index,
                                       batch.gt_rel_label, batch.num_nodes,
                                       generator if training else None)
    if training and pairs_per_image > 0:
        edge_graph = batch.batch[batch.edge_index[0]]
        mask = sample_pairs(edge_graph, batch.edge_label, batch.num_graphs,
                            pairs_per_image, positive_fraction, generator)
        select_edges(batch, mask)
    return batch
