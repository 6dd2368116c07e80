"""Batching :class:`~pyg_sgg.data.SceneGraph` objects: :func:`collate_scene_graphs` is
``Batch.from_data_list``, except that string attributes (``image_path``) become lists and
per-image tensors whose trailing shape differs between images (``masks [N, H, W]``) are kept
as a list, one tensor per image, not concatenated."""
from typing import Sequence

from torch_geometric.data import Batch

__all__ = ["collate_scene_graphs", "LIST_KEYS"]

#: attributes collated as a Python list of per-image tensors
LIST_KEYS = ("masks",)


def collate_scene_graphs(data_list: Sequence) -> Batch:
    """``[SceneGraph, ...] -> Batch``; ``image_path`` a list of str, ``masks`` (if present)
    a list of ``[N_i, H_i, W_i]`` tensors."""
    data_list = list(data_list)
    lists = {}
    for key in LIST_KEYS:
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
        batch[key] = vals
    return batch
