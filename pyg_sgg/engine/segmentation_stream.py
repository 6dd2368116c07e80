"""Seg-SG's data mixing (METHODS.md §2.7): every training iteration also takes a COCO batch
of ``SOLVER.IMS_PER_BATCH // MODEL.SGG.SEG.DATA_DIVISOR`` images for the refinement head.

* :class:`COCOSegmentationSamples`: COCO images with the frozen detector's features (FPN
  maps and COCO mask logits of the GT boxes) and each object's 28 × 28 mask target; the
  full-size masks are dropped (they cannot be batched).
* :class:`AttachCOCOBatches`: the trainer's ``batch_transform``: prepares the VG batch, then
  attaches ``batch.coco``. The COCO images of an iteration are drawn with a generator seeded
  by the VG batch's image ids, so a resumed run sees the same COCO batches.
"""
import hashlib
from typing import Callable

import torch

from ..nn.segmentation_refinement import instance_targets, mask_targets

__all__ = ["COCOSegmentationSamples", "AttachCOCOBatches"]


class COCOSegmentationSamples(torch.utils.data.Dataset):
    """``features[i]`` (a :class:`~pyg_sgg.detection.features.DetectorFeatureDataset` of a
    COCO dataset, PredCls mode, masks and FPN maps on) with ``mask_targets [N, R, R]`` (and,
    with ``instances``, ``instance_targets [N, R, R]`` for the discriminative loss) and
    without ``masks`` / ``crowd_boxes``."""

    def __init__(self, features, resolution: int = 28, instances: bool = False):
        self.features, self.resolution = features, int(resolution)
        self.instances = bool(instances)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int):
        g = self.features[i]
        g.mask_targets = mask_targets(g.masks, g.boxes, self.resolution)
        if self.instances:
            g.instance_targets = instance_targets(g.masks, g.boxes, self.resolution)
        for key in ("masks", "crowd_boxes", "det_logits"):
            if key in g:
                del g[key]
        return g


class AttachCOCOBatches:
    """``batch -> transform(batch)`` with ``batch.coco``: ``batch_size`` COCO samples.

    Args:
        transform (callable): the VG batch's own preparation (``model.prepare_batch``).
        samples (COCOSegmentationSamples): the COCO images.
        batch_size (int): COCO images per iteration.
        collate_fn (callable): list of scene graphs -> batch.
        seed (int): mixed into every draw.
    """

    def __init__(self, transform: Callable, samples, batch_size: int, collate_fn: Callable,
                 seed: int = 0):
        if len(samples) == 0:
            raise ValueError("AttachCOCOBatches: the COCO dataset is empty")
        self.transform, self.samples = transform, samples
        self.batch_size, self.collate_fn, self.seed = max(1, int(batch_size)), collate_fn, seed

    def _generator(self, batch) -> torch.Generator:
        ids = batch.image_id.view(-1).tolist() if "image_id" in batch else []
        digest = hashlib.sha1(f"{self.seed}|{ids}".encode()).digest()
        return torch.Generator().manual_seed(int.from_bytes(digest[:7], "little"))

    def __call__(self, batch):
        batch = self.transform(batch)
        g = self._generator(batch)
        idx = torch.randint(len(self.samples), (self.batch_size,), generator=g).tolist()
        coco = self.collate_fn([self.samples[i] for i in idx])
        batch.coco = coco.to(batch.boxes.device)
        return batch
