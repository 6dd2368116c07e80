"""Detector features on scene graphs, and an on-disk cache for a frozen detector.

:class:`FeatureCache` runs the detector once over a dataset split and stores, per image, the
RoI features, union-box (pair) features, class logits (and optionally mask logits) as flat
memory-mapped arrays delimited by pointer arrays. A cache entry is keyed by
``(detector weights hash, dataset split fingerprint, mode)``: other weights or another split
get another entry, and building an entry deletes the entries of the same split and settings
with older weights. Entries are built in a temporary folder and renamed into place (atomic).

:class:`DetectorFeatureDataset` wraps a scene-graph dataset and attaches the features as
CONTRACTS.md fixes them: ``x [N, D]``, ``edge_index [2, N (N - 1)]`` (all ordered pairs,
local, ``all_pairs`` order), ``edge_attr [E, D_pair]``, ``det_logits [N, C + 1]`` (and
``mask_logits [N, K, 28, 28]`` when stored). In SGDet the nodes are the detections
(``boxes``, ``labels``, ``det_scores``) and the ground truth is kept in ``gt_boxes``,
``gt_labels``, ``gt_triplets`` and ``num_gt``. In the ``trainable`` feature mode
(``feature_maps=True``) the items carry the FPN maps (``feature_maps``, ``map_image_size``)
instead of ``x`` / ``edge_attr``, and the vector cache skips the union boxes; in PredCls,
where the relation model reads neither the detector's vectors nor its class logits, no
vector cache is built and the items carry no ``det_logits``.
"""
import hashlib
import logging
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch

from pyg_sgg.data.scene_graph import SceneGraph, all_pairs
from pyg_sgg.detection.base import ImageFeatures
from pyg_sgg.build_lock import build_lock
from pyg_sgg.detection.memmap_store import (EntryWriter, drop_other_entries, entry_exists,
                                            read_entry, remove_dead_builds)
from pyg_sgg.progress import progress
from pyg_sgg.paths import cache_dir

MODES = ("predcls", "sgcls", "sgdet")
logger = logging.getLogger(__name__)
_FORMAT_VERSION = 1


def weights_hash(model: torch.nn.Module) -> str:
    """16 hex digits of SHA-1 over the model's state dict (names, dtypes, shapes, bytes)."""
    h = hashlib.sha1()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def split_fingerprint(dataset) -> str:
    """16 hex digits identifying a dataset split by content: its class, ``split``, length,
    image ids, each image's file name and size in bytes, and the GT boxes / labels. No folder
    and no time enters it, so a moved or copied dataset and cache keep their features."""
    h = hashlib.sha1()
    h.update(f"{type(dataset).__name__}|{getattr(dataset, 'split', '')}|{len(dataset)}".encode())
    for i in range(len(dataset)):
        g = dataset[i]
        h.update(g.image_id.numpy().tobytes())
        path = getattr(g, "image_path", "")
        if path:
            path = Path(path)
            size = path.stat().st_size if path.is_file() else -1
            h.update(f"{path.name}|{size}".encode())
        h.update(g.boxes.numpy().astype(np.float32).tobytes())
        h.update(g.labels.numpy().astype(np.int64).tobytes())
    return h.hexdigest()[:16]


def _cache_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"feature mode must be one of {MODES}, got {mode!r}")
    return "det" if mode == "sgdet" else "gt"


class FeatureCache:
    """Detector outputs of every image of ``dataset``, computed once, memory-mapped.

    Args:
        detector: a :class:`~pyg_sgg.detection.base.Detector` with a ``model`` (weights
            hashed for the key) — e.g. :class:`TorchvisionDetector`.
        dataset: scene-graph dataset with ``load_image(i)``.
        mode (str): ``"predcls"`` / ``"sgcls"`` (given GT boxes; one shared entry) or
            ``"sgdet"`` (detections). (default: ``"predcls"``)
        root (Path, optional): cache root. (default: ``cache_dir() / "features"``)
        dtype: storage dtype of features and mask logits. (default: ``torch.float16``)
        masks (bool): also store mask logits (large: ``K * 784`` values per object).
            (default: ``False``)
        progress (bool): report the build (a tqdm bar on a terminal, else a log line
            every 30 s: :func:`pyg_sgg.progress.progress`). (default: ``True``)
        pairs (bool): also store the union-box features of every ordered pair (the
            ``frozen`` feature mode; the trainable extractors compute their own).
            (default: ``True``)

    ``cache[i]`` returns an :class:`ImageFeatures` whose feature tensors are in ``dtype``
    (``class_logits`` float32), bit-identical to ``detector.extract`` (or ``detect``) of
    that single image cast to ``dtype``.
    """

    def __init__(self, detector, dataset, mode: str = "predcls", root: Optional[Path] = None,
                 dtype: torch.dtype = torch.float16, masks: bool = False,
                 progress: bool = True, pairs: bool = True):
        self.detector, self.dataset = detector, dataset
        self.pairs = bool(pairs)
        self.mode, self.kind = mode, _cache_mode(mode)
        self.dtype, self.masks, self.progress = dtype, bool(masks), progress
        if self.masks and not getattr(detector, "masks", False):
            raise ValueError("FeatureCache: masks=True needs a detector with mask logits on")
        self.root = Path(root) if root is not None else cache_dir() / "features"
        model = getattr(detector, "model", None)
        if model is None:
            raise ValueError("FeatureCache: the detector has no 'model' to hash")
        cap = getattr(detector, "detections_per_img",
                      getattr(getattr(model, "roi_heads", None), "detections_per_img", ""))
        settings = f"{self.kind}|{dtype}|{self.masks}|{cap}|{_FORMAT_VERSION}"
        if not self.pairs:
            settings += "|no-pairs"
        self.weights = weights_hash(model)
        self.split = split_fingerprint(dataset)
        tag = hashlib.sha1(settings.encode()).hexdigest()[:8]
        self.split_dir = self.root / f"{type(dataset).__name__}-{self.split}"
        self.prefix = f"{self.kind}-{tag}-"
        self.path = self.split_dir / f"{self.prefix}{self.weights}"
        self._arrays: Optional[Dict[str, np.ndarray]] = None

    # ----------------------------------------------------------------------------- building
    @property
    def exists(self) -> bool:
        return entry_exists(self.path)

    def build(self, force: bool = False) -> "FeatureCache":
        """Compute the entry if it is missing (or ``force``); drop stale entries."""
        if self.exists and not force:
            return self
        why = "forced" if force else self.why_missing()  # before the lock file exists
        with build_lock(self.path):  # a concurrent build of this entry: wait, then reuse it
            if self.exists and not force:
                return self
            return self._build(why)

    def _build(self, why: str) -> "FeatureCache":
        logger.info("building the %s feature cache %s: %s", self.mode, self.path, why)
        remove_dead_builds(self.split_dir, self.prefix)
        node_ptr, pair_ptr = [0], [0]
        np_dtype = np.dtype(str(self.dtype).replace("torch.", ""))
        it = progress(len(self.dataset), f"features {self.mode}", self.progress)
        meta = {"version": _FORMAT_VERSION, "mode": self.kind, "weights": self.weights,
                "split": self.split, "num_images": len(self.dataset)}
        with EntryWriter(self.path, meta) as out:
            for i in it:
                f = self._fresh(i)
                out.write("boxes", f.boxes.cpu().numpy(), np.float32)
                out.write("labels", f.labels.cpu().numpy(), np.int64)
                out.write("scores", f.scores.cpu().numpy(), np.float32)
                out.write("roi_features", f.roi_features.to(self.dtype).cpu().numpy(),
                          np_dtype)
                if self.pairs:
                    out.write("pair_features", f.pair_features.to(self.dtype).cpu().numpy(),
                              np_dtype)
                out.write("class_logits", f.class_logits.float().cpu().numpy(), np.float32)
                if self.masks:
                    out.write("mask_logits", f.mask_logits.to(self.dtype).cpu().numpy(),
                              np_dtype)
                node_ptr.append(node_ptr[-1] + f.boxes.size(0))
                pair_ptr.append(pair_ptr[-1] + f.pair_features.size(0))
            out.save("node_ptr", np.asarray(node_ptr, np.int64))
            out.save("pair_ptr", np.asarray(pair_ptr, np.int64))
        drop_other_entries(self.split_dir, f"{self.prefix}*", self.path)  # older weights
        self._arrays = None
        return self

    def why_missing(self) -> str:
        """Why this entry is not on disk: a split never cached, or other detector weights /
        settings cached for it."""
        if not self.split_dir.is_dir():
            return "this split (images, boxes, labels) has no cache yet"
        others = [p.name for p in self.split_dir.glob(f"{self.kind}-*") if p.is_dir()
                  and (p / "meta.json").is_file()]
        if not others:
            return "this split has no complete cache entry yet"
        if any(p.startswith(self.prefix) for p in others):
            return "the detector weights changed"
        return "the cache settings (dtype, masks, detections per image) changed"

    def _fresh(self, i: int) -> ImageFeatures:
        img = self.dataset.load_image(i)
        if self.kind == "det":
            return self.detector.detect([img], pair_features=self.pairs)[0]
        g = self.dataset[i]
        return self.detector.extract([img], [g.boxes], [g.labels],
                                     pair_features=self.pairs)[0]

    # ------------------------------------------------------------------------------ reading
    def _load(self) -> Dict[str, np.ndarray]:
        if self._arrays is None:
            if not self.exists:
                self.build()
            self._arrays = read_entry(self.path, ["node_ptr", "pair_ptr"])
        return self._arrays

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> ImageFeatures:
        a = self._load()
        n0, n1 = int(a["node_ptr"][i]), int(a["node_ptr"][i + 1])
        e0, e1 = int(a["pair_ptr"][i]), int(a["pair_ptr"][i + 1])
        d = self.detector

        def get(name, lo, hi, width):
            if name not in a or (name == "pair_features" and not self.pairs):
                return torch.zeros((0, *width), dtype=torch.float32)
            return torch.from_numpy(np.array(a[name][lo:hi]))

        nc = getattr(d, "num_classes", 0) + 1
        feat = ImageFeatures(
            boxes=get("boxes", n0, n1, (4,)), labels=get("labels", n0, n1, ()).long(),
            scores=get("scores", n0, n1, ()),
            roi_features=get("roi_features", n0, n1, (d.feature_dim,)).to(self.dtype),
            pair_features=get("pair_features", e0, e1, (d.pair_feature_dim,)).to(self.dtype),
            class_logits=get("class_logits", n0, n1, (nc,)),
            mask_logits=None)
        if self.masks:
            k = getattr(d, "num_mask_classes", 0)
            feat.mask_logits = get("mask_logits", n0, n1, (k, 28, 28)).to(self.dtype)
        return feat

    def __repr__(self) -> str:
        return f"FeatureCache({self.mode!r}, path='{self.path}')"


class DetectorFeatureDataset(torch.utils.data.Dataset):
    """A scene-graph dataset with detector features attached (see module docstring).

    Args:
        dataset: scene-graph dataset (``ds[i] -> SceneGraph``, ``ds.load_image(i)``).
        detector: a frozen :class:`~pyg_sgg.detection.base.Detector`.
        mode (str): ``"predcls"``, ``"sgcls"`` or ``"sgdet"``. (default: ``"predcls"``)
        cache (bool): read from a :class:`FeatureCache` (built on first use) instead of
            running the detector per item. (default: ``True``)
        masks (bool): attach ``mask_logits``. (default: ``False``)
        feature_maps (bool): the ``trainable`` feature mode: attach the backbone's FPN maps
            (``feature_maps``: list of ``[C, H_l, W_l]``, ``map_image_size [1, 2]`` the
            resized ``(height, width)`` they belong to) instead of ``x`` / ``edge_attr``;
            the relation model's own extractors pool them; in PredCls (without ``masks``)
            nothing else of the detector is attached. (default: ``False``)
        map_cache (bool): read the maps from a
            :class:`~pyg_sgg.detection.feature_maps.FeatureMapCache` instead of running the
            backbone per item. (default: ``True``)
        **cache_kwargs: ``root``, ``dtype``, ``progress`` for the caches.
    """

    def __init__(self, dataset, detector, mode: str = "predcls", cache: bool = True,
                 masks: bool = False, feature_maps: bool = False, map_cache: bool = True,
                 **cache_kwargs):
        _cache_mode(mode)
        self.dataset, self.detector, self.mode, self.masks = dataset, detector, mode, masks
        self.with_maps = bool(feature_maps)
        self.cache = self.map_cache = None
        # trainable PredCls: the GT boxes and labels plus the maps are all the model reads
        self.needs_detector_outputs = not (self.with_maps and mode == "predcls" and not masks)
        if cache and self.needs_detector_outputs:
            self.cache = FeatureCache(detector, dataset, mode, masks=masks,
                                      pairs=not self.with_maps, **cache_kwargs).build()
        if self.with_maps and map_cache:
            from pyg_sgg.detection.feature_maps import FeatureMapCache
            self.map_cache = FeatureMapCache(detector, dataset, **cache_kwargs).build()
        for name in ("object_classes", "predicate_classes", "split"):
            if hasattr(dataset, name):
                setattr(self, name, getattr(dataset, name))

    def __len__(self) -> int:
        return len(self.dataset)

    def features(self, i: int) -> ImageFeatures:
        if self.cache is not None:
            return self.cache[i]
        img = self.dataset.load_image(i)
        pairs = not self.with_maps
        if self.mode == "sgdet":
            return self.detector.detect([img], pair_features=pairs)[0]
        g = self.dataset[i]
        return self.detector.extract([img], [g.boxes], [g.labels], pair_features=pairs)[0]

    def _visual(self, i: int, f: ImageFeatures) -> Dict:
        if not self.with_maps:
            return {"x": f.roi_features.float(), "edge_attr": f.pair_features.float()}
        from pyg_sgg.detection.feature_maps import image_feature_maps
        maps, size = image_feature_maps(self.detector, self.dataset, i, self.map_cache)
        return {"feature_maps": maps, "map_image_size": torch.tensor([size])}

    def __getitem__(self, i: int) -> SceneGraph:
        g = self.dataset[i]
        if not self.needs_detector_outputs:
            g.edge_index = all_pairs(torch.tensor([g.boxes.size(0)]))
            for k, v in self._visual(i, None).items():
                g[k] = v
            return g
        f = self.features(i)
        n = f.boxes.size(0)
        pairs = all_pairs(torch.tensor([n]))
        extra = self._visual(i, f)
        if self.masks and f.mask_logits is not None:
            extra["mask_logits"] = f.mask_logits.float()
        if self.mode != "sgdet":
            g.edge_index = pairs
            g.det_logits = f.class_logits.float()
            for k, v in extra.items():
                g[k] = v
            return g
        kwargs = {k: g[k] for k in ("image_path",) if k in g}
        return SceneGraph(
            boxes=f.boxes.float(), labels=f.labels.long(),
            image_size=tuple(g.image_size.view(-1).tolist()), image_id=int(g.image_id),
            det_scores=f.scores.float(), edge_index=pairs, det_logits=f.class_logits.float(),
            gt_boxes=g.boxes, gt_labels=g.labels, gt_triplets=g.gt_triplets,
            num_gt=torch.tensor([g.boxes.size(0)]), **extra, **kwargs)
