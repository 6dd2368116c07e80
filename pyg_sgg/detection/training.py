"""Detector training: joint VG boxes + COCO masks (Seg-SG stage 1) or VG boxes only.

Every iteration takes one VG batch (RPN + VG box losses) and, when a COCO dataset is given,
one COCO batch (RPN + COCO box + mask losses, prefixed ``coco_``); all losses are summed with
weight 1 (METHODS.md §2.2). Checkpoints are written atomically (tmp file + ``os.replace``)
and training resumes from ``last_checkpoint``.

A dataset here is anything with ``len()``, ``ds[i] -> SceneGraph`` (``boxes``, ``labels``,
and ``masks [N, H, W]`` for COCO) and ``ds.load_image(i) -> [3, H, W]`` float in ``[0, 1]``
(:class:`pyg_sgg.data.vg.VGDataset`, :class:`pyg_sgg.data.coco.COCOMaskDataset`).
"""
import logging
import math
import os
import time
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence, Tuple

import torch
from torch import Tensor

from pyg_sgg.detection.joint_mask_rcnn import JointMaskRCNN

logger = logging.getLogger(__name__)


class DetectionSamples(torch.utils.data.Dataset):
    """``(image [3, H, W], target dict)`` pairs of a scene-graph dataset, optionally
    flipped horizontally (Seg-SG's default augmentation).

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
    resumed run sees the same sequence."""
    n = len(samples)
    if n == 0:
        raise ValueError("train_detector: empty training dataset")
    per_epoch = max(1, n // batch_size)
    epoch, skip = divmod(start_iter, per_epoch)
    while True:
        g = torch.Generator().manual_seed(seed + epoch)
        order = torch.randperm(n, generator=g)[: per_epoch * batch_size].tolist()
        batches = [order[k * batch_size:(k + 1) * batch_size] for k in range(skip, per_epoch)]
        loader = torch.utils.data.DataLoader(samples, batch_sampler=batches,
                                             collate_fn=collate_detection,
                                             num_workers=num_workers)
        yield from loader
        epoch, skip = epoch + 1, 0


def save_checkpoint(path: Path, state: Dict) -> None:
    """``torch.save`` to ``path`` atomically (tmp file in the same folder + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)


def last_checkpoint(output_dir: Path) -> Optional[Path]:
    """Path named in ``output_dir/last_checkpoint`` (detectron2's convention), if any."""
    f = Path(output_dir) / "last_checkpoint"
    if not f.is_file():
        return None
    p = Path(output_dir) / f.read_text().strip()
    return p if p.is_file() else None


def _lr_factor(it: int, warmup_iters: int, warmup_factor: float, steps: Sequence[int],
               gamma: float, max_iter: int, schedule: str, progress: float) -> float:
    """``progress`` in [0, 1]: share of the run done (iterations or time budget)."""
    if schedule == "cosine":
        f = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    else:
        f = gamma ** sum(progress * max_iter >= s for s in steps)
    if it < warmup_iters:
        a = it / max(1, warmup_iters)
        f *= warmup_factor * (1 - a) + a
    return f


def train_detector(model: JointMaskRCNN, vg_dataset, coco_dataset=None, *,
                   output_dir, max_iter: int = 1000, ims_per_batch: int = 4,
                   coco_ims_per_batch: Optional[int] = None, optimizer: str = "sgd",
                   base_lr: float = 0.02, momentum: float = 0.9, weight_decay: float = 1e-4,
                   lr_schedule: str = "step", steps: Sequence[int] = (), gamma: float = 0.1,
                   warmup_iters: int = 100, warmup_factor: float = 0.001,
                   hflip: float = 0.5, checkpoint_period: int = 500, resume: bool = False,
                   seed: int = 0, num_workers: int = 0, log_period: int = 20,
                   progress: bool = True, max_time_s: Optional[float] = None) -> Dict:
    """Train ``model`` jointly on VG boxes and (if given) COCO masks.

    Args:
        model: a :class:`JointMaskRCNN` (with a COCO head iff ``coco_dataset`` is given).
        vg_dataset, coco_dataset: scene-graph datasets (see module docstring).
        output_dir: checkpoints ``model_XXXXXXX.pth`` / ``model_final.pth`` and
            ``last_checkpoint`` go here.
        max_iter: iterations (one VG batch + one COCO batch each).
        optimizer: ``"sgd"`` or ``"adamw"``; lr schedule ``"step"`` (``steps``, ``gamma``)
            or ``"cosine"``, with linear warmup.
        resume: continue from ``output_dir/last_checkpoint`` when it exists.
        max_time_s: time budget: stop (and save) after this many seconds of training; the
            lr schedule then follows ``max(iteration / max_iter, elapsed / max_time_s)``.

    Returns:
        dict with ``checkpoint`` (path of the final weights), ``iteration``, ``losses``
        (last smoothed values), ``train_time_s`` (wall clock) and ``cpu_time_s`` (this
        process's CPU time, all threads).
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if coco_dataset is not None and not model.mask_on:
        raise ValueError("train_detector: a COCO dataset needs a model with num_mask_classes > 0")
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=base_lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=base_lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"train_detector: optimizer must be 'sgd' or 'adamw', got {optimizer!r}")
    start_iter, elapsed, cpu_time = 0, 0.0, 0.0
    ckpt_path = last_checkpoint(output_dir) if resume else None
    if ckpt_path is not None:
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        if "optimizer" in state:
            opt.load_state_dict(state["optimizer"])
        start_iter = int(state.get("iteration", 0))
        elapsed = float(state.get("train_time_s", 0.0))
        cpu_time = float(state.get("cpu_time_s", 0.0))
        logger.info("resumed from %s at iteration %d", ckpt_path, start_iter)

    def save(name: str, it: int):
        save_checkpoint(output_dir / name, {"model": model.state_dict(),
                                            "optimizer": opt.state_dict(), "iteration": it,
                                            "train_time_s": elapsed, "cpu_time_s": cpu_time})
        tmp = output_dir / f".last_checkpoint.tmp{os.getpid()}"
        tmp.write_text(name)
        os.replace(tmp, output_dir / "last_checkpoint")

    if start_iter >= max_iter:
        final = output_dir / "model_final.pth"
        if not final.is_file():
            save("model_final.pth", start_iter)
        return {"checkpoint": final, "iteration": start_iter, "losses": {},
                "train_time_s": elapsed, "cpu_time_s": cpu_time}

    torch.manual_seed(seed + start_iter)
    vg_iter = infinite_loader(DetectionSamples(vg_dataset, False, hflip), ims_per_batch,
                              seed, start_iter, num_workers)
    coco_iter = None
    if coco_dataset is not None:
        coco_iter = infinite_loader(DetectionSamples(coco_dataset, True, hflip),
                                    coco_ims_per_batch or ims_per_batch, seed + 7919,
                                    start_iter, num_workers)
    model.train()
    smoothed: Dict[str, float] = {}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=max_iter, initial=start_iter, desc="detector", dynamic_ncols=True,
                   disable=None)  # None: no bar when stderr is not a terminal
    t0 = time.perf_counter() - elapsed
    c0 = time.process_time() - cpu_time
    it = start_iter
    while it < max_iter:
        progress_frac = it / max(1, max_iter)
        if max_time_s:
            progress_frac = max(progress_frac, elapsed / max_time_s)
        factor = _lr_factor(it, warmup_iters, warmup_factor, steps, gamma, max_iter,
                            lr_schedule, progress_frac)
        for group in opt.param_groups:
            group["lr"] = base_lr * factor
        images, targets = next(vg_iter)
        losses = model(images, targets, dataset="vg")
        if coco_iter is not None:
            images, targets = next(coco_iter)
            losses.update(model(images, targets, dataset="coco"))
        total = sum(losses.values())
        if not torch.isfinite(total):
            raise FloatingPointError(f"train_detector: non-finite loss at iteration {it}: "
                                     f"{ {k: float(v) for k, v in losses.items()} }")
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        it += 1
        elapsed = time.perf_counter() - t0
        cpu_time = time.process_time() - c0
        for k, v in losses.items():
            v = float(v.detach())
            smoothed[k] = 0.9 * smoothed.get(k, v) + 0.1 * v
        if bar is not None:
            bar.update(1)
            if it % log_period == 0:
                bar.set_postfix(loss=f"{sum(smoothed.values()):.3f}", lr=f"{base_lr*factor:.4g}")
        if it % log_period == 0:
            logger.info("iter %d  %.0fs (cpu %.0fs)  %s", it, elapsed, cpu_time,
                        " ".join(f"{k}={v:.3f}" for k, v in smoothed.items()))
        stop = max_time_s is not None and elapsed >= max_time_s
        if it % checkpoint_period == 0 and it < max_iter and not stop:
            save(f"model_{it:07d}.pth", it)
        if stop:
            logger.info("stopping at iteration %d after %.0f s (max_time_s)", it, elapsed)
            break
    if bar is not None:
        bar.close()
    save("model_final.pth", it)
    return {"checkpoint": output_dir / "model_final.pth", "iteration": it,
            "losses": smoothed, "train_time_s": elapsed, "cpu_time_s": cpu_time}
