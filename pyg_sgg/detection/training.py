"""What the training engine needs to train the detector (the loop itself is
:mod:`pyg_sgg.engine.detector_training`): joint VG boxes + COCO masks (Seg-SG stage 1) or VG
boxes only, as a data stream of :class:`DetectionBatch` es and a module returning the losses.

Every iteration takes one VG batch (RPN + VG box losses) and, when a COCO dataset is given,
one COCO batch (RPN + COCO box + mask losses, prefixed ``coco_``); all losses are summed with
weight 1 (METHODS.md §2.2).

A dataset here is anything with ``len()``, ``ds[i] -> SceneGraph`` (``boxes``, ``labels``,
and ``masks [N, H, W]`` for COCO) and ``ds.load_image(i) -> [3, H, W]`` float in ``[0, 1]``
(:class:`pyg_sgg.data.vg.VGDataset`, :class:`pyg_sgg.data.coco.COCOMaskDataset`).
"""
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import torch
from torch import Tensor

from .joint_mask_rcnn import JointMaskRCNN

__all__ = ["DetectionSamples", "DetectionBatch", "JointDetectorLosses", "collate_detection",
           "infinite_loader", "detection_stream", "detector_state_dict"]


class DetectionSamples(torch.utils.data.Dataset):
    """``(image [3, H, W], target dict)`` pairs of a scene-graph dataset, optionally
    flipped horizontally (Seg-SG's default augmentation; the flip draws from the global
    torch RNG, which the trainer checkpoints).

    Args:
        dataset: scene-graph dataset (see module docstring).
        masks (bool): put ``masks`` into the targets. (default: ``False``)
        hflip (float): probability of a horizontal flip. (default: ``0.0``)
    """

    def __init__(self, dataset, masks: bool = False, hflip: float = 0.0):
        self.dataset, self.masks, self.hflip = dataset, masks, float(hflip)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Tuple[Tensor, Dict[str, Tensor]]:
        g = self.dataset[i]
        img = self.dataset.load_image(i)
        target = {"boxes": g.boxes.float().reshape(-1, 4), "labels": g.labels.long()}
        if self.masks:
            masks = getattr(g, "masks", None)
            if masks is None:
                raise ValueError(f"DetectionSamples: sample {i} of "
                                 f"{type(self.dataset).__name__} has no field 'masks'")
            target["masks"] = masks.to(torch.uint8)
        if self.hflip > 0 and torch.rand(()) < self.hflip:
            w = img.shape[-1]
            img = img.flip(-1)
            b = target["boxes"]
            target["boxes"] = torch.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], 1)
            if self.masks:
                target["masks"] = target["masks"].flip(-1)
        return img, target


def collate_detection(samples):
    """List of ``(image, target)`` -> ``(list of images, list of targets)``."""
    return [s[0] for s in samples], [s[1] for s in samples]


def infinite_loader(samples: torch.utils.data.Dataset, batch_size: int, seed: int,
                    start_iter: int = 0, num_workers: int = 0) -> Iterator:
    """Endless stream of shuffled batches; epoch ``e`` uses seed ``seed + e`` so that a
    resumed run (``start_iter``) sees the same sequence."""
    n = len(samples)
    if n == 0:
        raise ValueError("train_detector: empty training dataset")
    per_epoch = max(1, n // batch_size)
    epoch, skip = divmod(start_iter, per_epoch)
    while True:
        g = torch.Generator().manual_seed(seed + epoch)
        order = torch.randperm(n, generator=g)[: per_epoch * batch_size].tolist()
        batches = [order[k * batch_size:(k + 1) * batch_size] for k in range(skip, per_epoch)]
        # its own generator: the loader's worker seed is not drawn from the global RNG, so a
        # resumed run's global stream (flips, RPN / RoI sampling) is the uninterrupted one
        loader = torch.utils.data.DataLoader(samples, batch_sampler=batches,
                                             collate_fn=collate_detection,
                                             num_workers=num_workers,
                                             generator=torch.Generator().manual_seed(seed + epoch))
        yield from loader
        epoch, skip = epoch + 1, 0


@dataclass
class DetectionBatch:
    """One iteration's images and targets: a VG batch and (joint training) a COCO batch."""
    vg_images: List[Tensor]
    vg_targets: List[Dict[str, Tensor]]
    coco_images: Optional[List[Tensor]] = None
    coco_targets: Optional[List[Dict[str, Tensor]]] = None

    def to(self, device) -> "DetectionBatch":
        def move(images, targets):
            if images is None:
                return None, None
            return ([im.to(device) for im in images],
                    [{k: v.to(device) for k, v in t.items()} for t in targets])
        return DetectionBatch(*move(self.vg_images, self.vg_targets),
                              *move(self.coco_images, self.coco_targets))


def detection_stream(vg_dataset, coco_dataset=None, *, ims_per_batch: int = 4,
                     coco_ims_per_batch: Optional[int] = None, hflip: float = 0.0,
                     seed: int = 0, num_workers: int = 0):
    """The trainer's ``train_loader``: ``(stage, start_iteration) ->`` endless
    :class:`DetectionBatch` es (VG and COCO streams shuffled independently, each
    deterministic in ``seed`` and the iteration)."""
    def loader(stage, start_iter: int) -> Iterator[DetectionBatch]:
        vg = infinite_loader(DetectionSamples(vg_dataset, False, hflip), ims_per_batch, seed,
                             start_iter, num_workers)
        coco = None
        if coco_dataset is not None:
            coco = infinite_loader(DetectionSamples(coco_dataset, True, hflip),
                                   coco_ims_per_batch or ims_per_batch, seed + 7919,
                                   start_iter, num_workers)
        while True:
            images, targets = next(vg)
            batch = DetectionBatch(images, targets)
            if coco is not None:
                batch.coco_images, batch.coco_targets = next(coco)
            yield batch
    return loader


class JointDetectorLosses(torch.nn.Module):
    """``forward(DetectionBatch) -> dict`` of the VG losses plus the ``coco_`` losses: the
    detector as the training engine drives a model. Its state dict is the detector's under
    ``detector.`` (:func:`detector_state_dict` strips it)."""

    def __init__(self, detector: JointMaskRCNN):
        super().__init__()
        self.detector = detector

    def forward(self, batch: DetectionBatch) -> Dict[str, Tensor]:
        losses = self.detector(batch.vg_images, batch.vg_targets, dataset="vg")
        if batch.coco_images is not None:
            losses.update(self.detector(batch.coco_images, batch.coco_targets,
                                        dataset="coco"))
        return losses


def detector_state_dict(state: Dict) -> Dict[str, Tensor]:
    """The detector's weights of a checkpoint written by :func:`train_detector` (or of a
    bare state dict)."""
    sd = state.get("model", state)
    prefix = "detector."
    if sd and all(k.startswith(prefix) for k in sd):
        sd = {k[len(prefix):]: v for k, v in sd.items()}
    return sd
