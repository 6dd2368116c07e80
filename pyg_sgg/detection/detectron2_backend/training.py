"""Joint VG-box + COCO-mask training of :class:`~.meta_arch.JointGeneralizedRCNN` with
detectron2's own machinery: ``SimpleTrainer``, its hooks (iteration timer, LR scheduler,
periodic checkpointer, metric writers), its optimizer / scheduler builders, its data loader
and ``DatasetMapper``, and a ``DetectionCheckpointer`` (:class:`~.weights.JointCheckpointer`)
that resumes and reads model-zoo checkpoints. Under ``torch.distributed`` (``launch`` /
``torchrun``) the model is wrapped in DDP and every rank trains.

Every iteration takes one VG batch (``SOLVER.IMS_PER_BATCH``) and, with COCO, one COCO batch
(``DETECTOR.COCO_IMS_PER_BATCH``); losses are summed with weight 1 (METHODS.md §2.2).
"""
import logging
from pathlib import Path
from typing import Dict, List

import torch
from detectron2.data import DatasetMapper, build_detection_train_loader
from detectron2.data import transforms as T
from detectron2.data.samplers import TrainingSampler
from detectron2.engine import SimpleTrainer, create_ddp_model, hooks
from detectron2.modeling import build_model
from detectron2.solver import build_lr_scheduler, build_optimizer
from detectron2.utils import comm
from detectron2.utils.events import CommonMetricPrinter, JSONWriter
from torch import nn

from .config import to_detectron2_config
from .datasets import coco_dicts, register, vg_dicts
from .weights import JointCheckpointer

__all__ = ["train_detectron2_detector", "train_augmentations"]

logger = logging.getLogger(__name__)


def train_augmentations(d2cfg) -> List[T.Augmentation]:
    """``ResizeShortestEdge`` (unless ``INPUT.MIN_SIZE_TRAIN`` is 0: native size) and the
    horizontal flip of ``INPUT.RANDOM_FLIP``."""
    augs: List[T.Augmentation] = []
    sizes = [int(s) for s in d2cfg.INPUT.MIN_SIZE_TRAIN]
    if max(sizes) > 0:
        augs.append(T.ResizeShortestEdge(sizes, d2cfg.INPUT.MAX_SIZE_TRAIN, "choice"))
    if d2cfg.INPUT.RANDOM_FLIP == "horizontal":
        augs.append(T.RandomFlip(horizontal=True, vertical=False))
    return augs


def _loader(d2cfg, dicts, batch_size: int, masks: bool, seed: int):
    mapper = DatasetMapper(is_train=True, augmentations=train_augmentations(d2cfg),
                           image_format=d2cfg.INPUT.FORMAT, use_instance_mask=masks,
                           instance_mask_format=d2cfg.INPUT.MASK_FORMAT)
    return build_detection_train_loader(dicts, mapper=mapper, total_batch_size=batch_size,
                                        sampler=TrainingSampler(len(dicts), seed=seed),
                                        num_workers=d2cfg.DATALOADER.NUM_WORKERS)


class _Pairs:
    """Iterates ``(vg_batch, coco_batch or None)`` from two endless loaders."""

    def __init__(self, vg, coco=None):
        self.vg, self.coco = vg, coco

    def __iter__(self):
        vg = iter(self.vg)
        coco = iter(self.coco) if self.coco is not None else None
        while True:
            yield next(vg), (next(coco) if coco is not None else None)


class _JointStep(nn.Module):
    """What ``SimpleTrainer`` calls: ``(vg_batch, coco_batch) -> losses``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pair) -> Dict[str, torch.Tensor]:
        vg, coco = pair
        return self.model(vg, coco_inputs=coco)


def train_detectron2_detector(cfg, vg_dataset, coco_dataset, num_classes: int,
                              num_mask_classes: int, output_dir, resume: bool = False) -> Dict:
    """Train the detectron2 detector of ``cfg`` (schedule ``DETECTOR.SOLVER``) into
    ``output_dir`` (``model_final.pth``, ``last_checkpoint``, ``metrics.json``).

    Initial weights: the last checkpoint of ``output_dir`` with ``resume``, else
    ``DETECTOR.INIT_WEIGHTS`` (a model-zoo COCO Mask R-CNN maps onto the COCO branch).

    Returns:
        dict with ``checkpoint``, ``iteration`` and ``model`` (in train mode).
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    d2 = to_detectron2_config(cfg, num_classes, num_mask_classes if coco_dataset else 0)
    d2.OUTPUT_DIR = str(output_dir)
    d2.freeze()
    if comm.is_main_process():
        tmp = output_dir / ".detectron2_config.yaml.tmp"
        tmp.write_text(d2.dump())
        tmp.replace(output_dir / "detectron2_config.yaml")
    model = build_model(d2)
    vg = vg_dicts(vg_dataset)
    register("pyg_sgg_vg_train", vg, list(vg_dataset.object_classes[1:]))
    vg_loader = _loader(d2, vg, d2.SOLVER.IMS_PER_BATCH, False, d2.SEED)
    coco_loader = None
    if coco_dataset is not None:
        coco = coco_dicts(coco_dataset)
        register("pyg_sgg_coco_train", coco, list(coco_dataset.class_names[1:]))
        coco_loader = _loader(d2, coco, cfg.DETECTOR.COCO_IMS_PER_BATCH or d2.SOLVER.IMS_PER_BATCH,
                              True, d2.SEED + 7919)
    optimizer = build_optimizer(d2, model)
    scheduler = build_lr_scheduler(d2, optimizer)
    checkpointer = JointCheckpointer(model, str(output_dir), optimizer=optimizer,
                                     scheduler=scheduler)
    start = checkpointer.resume_or_load(d2.MODEL.WEIGHTS, resume=resume).get("iteration", -1) + 1
    if not resume:
        start = 0
    from pyg_sgg.engine.distributed import get_local_rank
    local = [get_local_rank()] if model.device.type == "cuda" else None
    ddp = create_ddp_model(model, device_ids=local, broadcast_buffers=False)
    trainer = SimpleTrainer(_JointStep(ddp), _Pairs(vg_loader, coco_loader), optimizer)
    max_iter = int(d2.SOLVER.MAX_ITER)
    solver = cfg.DETECTOR.SOLVER
    writers = []
    if comm.is_main_process():
        writers = [CommonMetricPrinter(max_iter), JSONWriter(str(output_dir / "metrics.json"))]
    trainer.register_hooks([
        hooks.IterationTimer(),
        hooks.LRScheduler(optimizer=optimizer, scheduler=scheduler),
        hooks.PeriodicCheckpointer(checkpointer, d2.SOLVER.CHECKPOINT_PERIOD, max_iter=max_iter,
                                   max_to_keep=int(solver.MAX_TO_KEEP)),
        hooks.PeriodicWriter(writers, period=int(solver.LOG_PERIOD)) if writers else None,
    ])
    if start < max_iter:
        trainer.train(start, max_iter)
    elif not (output_dir / "model_final.pth").is_file():
        checkpointer.save("model_final", iteration=max_iter - 1)
    return {"checkpoint": output_dir / "model_final.pth", "iteration": max_iter,
            "model": model, "config": d2}


def inference_model(model: nn.Module, d2cfg) -> nn.Module:
    """The trained model as :func:`pyg_sgg.detection.evaluation.evaluate_detector` calls it."""
    from .detector import Detectron2Inference
    return Detectron2Inference(model, d2cfg.INPUT.MIN_SIZE_TEST, d2cfg.INPUT.MAX_SIZE_TEST,
                               d2cfg.INPUT.FORMAT)

