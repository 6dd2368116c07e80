"""Batching :class:`~pyg_sgg.data.SceneGraph` objects and mixing VG with COCO batches.

* :func:`collate_scene_graphs`: ``Batch.from_data_list``; string attributes (``image_path``)
  become lists; per-image tensors whose trailing shape differs between images
  (``masks [N, H, W]``) are kept as a list, one tensor per image, not concatenated.
* :func:`build_loader`: a ``DataLoader`` that is deterministic given ``seed`` (shuffle order
  from a ``torch.Generator``; a dataset's own ``generator``, e.g. VG's duplicate-predicate
  sampling, is seeded from it in the main process and per worker).
* :func:`mixed_batches` / :class:`InfiniteMixedLoader`: ``(vg_batch, coco_batch)`` pairs,
  re-iterating (re-shuffling) the COCO loader whenever it runs out (Seg-SG joint training).
"""
from typing import Iterable, Iterator, Sequence, Tuple

import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info
from torch_geometric.data import Batch

__all__ = ["collate_scene_graphs", "build_loader", "mixed_batches", "InfiniteMixedLoader",
           "LIST_KEYS"]

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


def _seed_worker(worker_id: int):
    info = get_worker_info()
    gen = getattr(info.dataset, "generator", None)
    if isinstance(gen, torch.Generator):
        gen.manual_seed(info.seed % (2 ** 63))
    import random

    import numpy as np
    random.seed(info.seed % (2 ** 32))
    np.random.seed(info.seed % (2 ** 32))


def build_loader(dataset: Dataset, batch_size: int, shuffle: bool = False, seed: int = 0,
                 num_workers: int = 0, drop_last: bool = False, **kwargs) -> DataLoader:
    """A deterministic ``DataLoader`` of :class:`~torch_geometric.data.Batch`.

    Args:
        dataset: e.g. :class:`~pyg_sgg.data.vg.VGDataset`.
        batch_size (int): images per batch.
        shuffle (bool): reshuffle every epoch (order fixed by ``seed``).
        seed (int): seeds the shuffle and the dataset's ``generator`` attribute (if the
            dataset has one and it is ``None``, it is created).
        num_workers (int): worker processes. (default: 0)
        drop_last (bool): drop the last incomplete batch.
        **kwargs: passed to ``DataLoader`` (e.g. ``pin_memory``).
    """
    gen = torch.Generator().manual_seed(int(seed))
    if hasattr(dataset, "generator") and getattr(dataset, "generator") is None:
        dataset.generator = torch.Generator().manual_seed(int(seed) + 1)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=gen,
                      num_workers=num_workers, drop_last=drop_last,
                      collate_fn=collate_scene_graphs,
                      worker_init_fn=_seed_worker if num_workers > 0 else None, **kwargs)


def _cycle(loader: Iterable) -> Iterator:
    """Re-iterate ``loader`` forever (re-shuffles a shuffling DataLoader each pass)."""
    while True:
        empty = True
        for item in loader:
            empty = False
            yield item
        if empty:
            raise ValueError("mixed_batches: the COCO loader yields no batch")


def mixed_batches(vg_loader: Iterable, coco_loader: Iterable,
                  infinite: bool = False) -> Iterator[Tuple[Batch, Batch]]:
    """``(vg_batch, coco_batch)`` pairs: one pass over ``vg_loader`` (forever with
    ``infinite=True``), the COCO loader cycled so every step has a COCO batch."""
    coco = _cycle(coco_loader)
    while True:
        empty = True
        for vg_batch in vg_loader:
            empty = False
            yield vg_batch, next(coco)
        if not infinite or empty:
            return


class InfiniteMixedLoader:
    """Iterable of ``(vg_batch, coco_batch)`` pairs, endless: both loaders are cycled (each
    re-shuffled at the start of its own pass). ``len()`` is the VG loader's length (one
    VG epoch)."""

    def __init__(self, vg_loader: Iterable, coco_loader: Iterable):
        self.vg_loader = vg_loader
        self.coco_loader = coco_loader

    def __iter__(self) -> Iterator[Tuple[Batch, Batch]]:
        return mixed_batches(self.vg_loader, self.coco_loader, infinite=True)

    def __len__(self) -> int:
        return len(self.vg_loader)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(vg={len(self.vg_loader)} batches)"
