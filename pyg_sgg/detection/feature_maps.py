"""The frozen detector's FPN maps per image, for the trainable relation feature extractors.

:class:`FeatureMapCache` runs the backbone once over a dataset split and stores, per image,
the maps the box pooler reads (each ``[C, H_l, W_l]``, stored as ``[H_l W_l, C]`` rows of one
flat memory-mapped array per level, float16 by default) and the size the image was resized
to. It is keyed like :class:`~pyg_sgg.detection.features.FeatureCache` (detector weights,
split content, settings) and written atomically (:mod:`~pyg_sgg.detection.memmap_store`).

:func:`image_feature_maps` reads one image's maps from a cache, or recomputes them (the
choice for real VG images: a 600 x 1000 image has ≈ 13 M map values on R-50-FPN).
"""
import hashlib
import logging
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from pyg_sgg.detection.features import split_fingerprint, weights_hash
from pyg_sgg.build_lock import build_lock
from pyg_sgg.detection.memmap_store import (EntryWriter, drop_other_entries, entry_exists,
                                            read_entry, remove_dead_builds)
from pyg_sgg.progress import progress
from pyg_sgg.paths import cache_dir

__all__ = ["FeatureMapCache", "image_feature_maps"]

logger = logging.getLogger(__name__)
_FORMAT_VERSION = 1


class FeatureMapCache:
    """FPN maps of every image of ``dataset`` (see module docstring).

    Args:
        detector: a :class:`~pyg_sgg.detection.torchvision_backend.TorchvisionDetector`
            (``feature_maps``, ``map_names``, ``model``).
        dataset: scene-graph dataset with ``load_image(i)``.
        root (Path, optional): cache root. (default: ``cache_dir() / "features"``)
        dtype: storage dtype. (default: ``torch.float16``)
        progress (bool): report the build (a tqdm bar on a terminal, else a log line
            every 30 s: :func:`pyg_sgg.progress.progress`). (default: ``True``)

    ``cache[i]`` returns ``(maps, size)`` as ``detector.feature_maps(image)`` does, the maps
    in ``dtype``.
    """

    def __init__(self, detector, dataset, root: Optional[Path] = None,
                 dtype: torch.dtype = torch.float16, progress: bool = True):
        self.detector, self.dataset = detector, dataset
        self.dtype, self.progress = dtype, progress
        self.root = Path(root) if root is not None else cache_dir() / "features"
        self.names = list(detector.map_names)
        settings = f"maps|{dtype}|{','.join(self.names)}|{_FORMAT_VERSION}"
        self.weights = weights_hash(detector.model)
        self.split_dir = self.root / f"{type(dataset).__name__}-{split_fingerprint(dataset)}"
        self.prefix = f"maps-{hashlib.sha1(settings.encode()).hexdigest()[:8]}-"
        self.path = self.split_dir / f"{self.prefix}{self.weights}"
        self._arrays: Optional[Dict] = None

    @property
    def exists(self) -> bool:
        return entry_exists(self.path)

    def build(self, force: bool = False) -> "FeatureMapCache":
        """Compute the entry if it is missing (or ``force``); drop stale ones."""
        if self.exists and not force:
            return self
        with build_lock(self.path):  # a concurrent build of this entry: wait, then reuse it
            if self.exists and not force:
                return self
            return self._build(force)

    def _build(self, force: bool) -> "FeatureMapCache":
        logger.info("building the feature-map cache %s", self.path)
        remove_dead_builds(self.split_dir, "maps-")
        np_dtype = np.dtype(str(self.dtype).replace("torch.", ""))
        n = len(self.dataset)
        ptr = np.zeros((len(self.names), n + 1), np.int64)
        shapes = np.zeros((n, len(self.names), 2), np.int64)
        sizes = np.zeros((n, 2), np.int64)
        it = progress(n, "feature maps", self.progress)
        meta = {"version": _FORMAT_VERSION, "weights": self.weights, "names": self.names,
                "num_images": n}
        with EntryWriter(self.path, meta) as out:
            for i in it:
                maps, size = self.detector.feature_maps(self.dataset.load_image(i))
                sizes[i] = size
                for lvl, m in enumerate(maps):
                    c, h, w = m.shape
                    shapes[i, lvl] = (h, w)
                    ptr[lvl, i + 1] = ptr[lvl, i] + h * w
                    rows = m.to(self.dtype).permute(1, 2, 0).reshape(h * w, c)
                    out.write(f"level{lvl}", rows.cpu().numpy(), np_dtype)
            out.save("ptr", ptr)
            out.save("map_shapes", shapes)
            out.save("sizes", sizes)
        drop_other_entries(self.split_dir, "maps-*", self.path)  # maps are large: keep one
        self._arrays = None
        return self

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Tuple[List[Tensor], Tuple[int, int]]:
        if self._arrays is None:
            if not self.exists:
                self.build()
            self._arrays = read_entry(self.path, ["ptr", "map_shapes", "sizes"])
        a = self._arrays
        maps = []
        for lvl in range(len(self.names)):
            lo, hi = int(a["ptr"][lvl, i]), int(a["ptr"][lvl, i + 1])
            h, w = (int(v) for v in a["map_shapes"][i, lvl])
            rows = torch.from_numpy(np.array(a[f"level{lvl}"][lo:hi]))
            maps.append(rows.view(h, w, -1).permute(2, 0, 1).contiguous())
        return maps, tuple(int(v) for v in a["sizes"][i])

    def __repr__(self) -> str:
        return f"FeatureMapCache(path='{self.path}')"


def image_feature_maps(detector, dataset, i: int, cache: Optional[FeatureMapCache] = None
                       ) -> Tuple[List[Tensor], Tuple[int, int]]:
    """Image ``i``'s maps (float32) and resized size, from ``cache`` or recomputed."""
    if cache is not None:
        maps, size = cache[i]
    else:
        maps, size = detector.feature_maps(dataset.load_image(i))
    return [m.float().cpu() for m in maps], size
