"""Samplers whose position is part of the checkpoint, so ``--resume`` sees the same data.

:class:`TrainingSampler` is an endless stream of dataset indices (one seeded permutation per
epoch) split across ``W`` processes by position: process ``r`` takes the stream's items
``r, r + W, r + 2W, ...``. A global batch of ``B`` = the ``W`` per-process batches of
``B / W`` is therefore the same set of images whatever ``W`` is, and resuming after ``k``
iterations starts at stream position ``k * B``.
"""
import itertools
from typing import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["TrainingSampler", "InferenceSampler"]


class TrainingSampler(Sampler):
    """Endless, sharded, resumable index stream.

    Args:
        size (int): dataset length.
        seed (int): permutation ``e`` is ``randperm(size)`` seeded with ``seed + e``.
        shuffle (bool): permute each epoch, else ``0..size-1`` repeated. (default: ``True``)
        rank (int): this process. (default: ``0``)
        world_size (int): number of processes. (default: ``1``)
        start (int): global stream position to start from (``iteration * global_batch``).
            (default: ``0``)
    """

    def __init__(self, size: int, seed: int = 0, shuffle: bool = True, rank: int = 0,
                 world_size: int = 1, start: int = 0):
        if size <= 0:
            raise ValueError("TrainingSampler needs a non-empty dataset")
        self.size, self.seed, self.shuffle = size, seed, shuffle
        self.rank, self.world_size, self.start = rank, world_size, start

    def _epoch(self, e: int) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.size)
        g = torch.Generator()
        g.manual_seed(self.seed + e)
        return torch.randperm(self.size, generator=g)

    def __iter__(self) -> Iterator[int]:
        pos = self.start + self.rank  # first global position of this process
        for e in itertools.count(pos // self.size):
            perm = self._epoch(e).tolist()
            lo = e * self.size
            while pos < lo + self.size:
                yield perm[pos - lo]
                pos += self.world_size

    def __repr__(self) -> str:
        return (f"TrainingSampler({self.size}, rank={self.rank}, "
                f"world_size={self.world_size}, start={self.start})")


class InferenceSampler(Sampler):
    """Each of ``world_size`` processes gets a contiguous, unpadded slice of ``0..size-1``."""

    def __init__(self, size: int, rank: int = 0, world_size: int = 1):
        per = (size + world_size - 1) // world_size if world_size else size
        self.indices = range(min(rank * per, size), min((rank + 1) * per, size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
