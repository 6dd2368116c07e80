"""Batching :class:`~pyg_sgg.data.SceneGraph` objects: :func:`collate_scene_graphs` is
``Batch.from_data_list``, except that string attributes (``image_path``) become lists,
per-image tensors whose trailing shape differs between images (``masks [N, H, W]``) are kept
as a list, one tensor per image, and per-image FPN maps (``feature_maps``, a list of
``[C, H_l, W_l]`` per image) become one ``[B, C, H_l, W_l]`` tensor per level, padded to the
largest image by repeating the last row and column (:func:`pad_feature_maps`)."""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Batch

__all__ = ["collate_scene_graphs", "pad_feature_maps", "LIST_KEYS", "MAP_KEY"]

#: attributes collated as a Python list of per-image tensors
LIST_KEYS = ("masks",)
#: the per-image FPN maps, collated by :func:`pad_feature_maps`
MAP_KEY = "feature_maps"


def pad_feature_maps(per_image: Sequence[Sequence[Tensor]]) -> List[Tensor]:
    """``[[C, H_l, W_l] per level] per image -> [B, C, max H_l, max W_l] per level``.

    The padding repeats each map's last row / column: RoIAlign of a box inside its image
    then reads what it reads from the unpadded map (where RoIAlign clamps a sample past
    the last cell to it, the padded map blends the cell with its copy, equal up to
    rounding), so batching does not change the pooled features (zero padding would).
    """
    levels = list(zip(*per_image))
    out = []
    for maps in levels:
        h = max(m.shape[-2] for m in maps)
        w = max(m.shape[-1] for m in maps)
        out.append(torch.stack([F.pad(m, (0, w - m.shape[-1], 0, h - m.shape[-2]),
                                      mode="replicate") if m.shape[-2:] != (h, w) else m
                                for m in maps]))
    return out


def collate_scene_graphs(data_list: Sequence) -> Batch:
    """``[SceneGraph, ...] -> Batch``; ``image_path`` a list of str, ``masks`` (if present)
    a list of ``[N_i, H_i, W_i]`` tensors, ``feature_maps`` (if present) a list of padded
    per-level tensors."""
    data_list = list(data_list)
    lists = {}
    for key in (*LIST_KEYS, MAP_KEY):
        if any(key in d for d in data_list):
            vals = []
            stripped = []
            for d in data_list:
                d = d.clone() if key in d else d
                vals.append(d[key] if key in d else None)
                if key in d:
                    del d[key]
                stripped.append(d)
            data_list = stripped
            lists[key] = vals
    batch = Batch.from_data_list(data_list)
    for key, vals in lists.items():
        if key == MAP_KEY:
            if any(v is None for v in vals):
                raise ValueError("collate_scene_graphs: some items lack 'feature_maps'")
            vals = pad_feature_maps(vals)
        batch[key] = vals
    return batch
