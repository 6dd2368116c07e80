"""Detector training run by the one training engine (:class:`~pyg_sgg.engine.trainer.Trainer`:
schedule, checkpoints, bit-exact resume, signals, ``metrics.json``) with ``DETECTOR.SOLVER``;
``python train.py --task detector``, and the train-once cache of the main job.

Every iteration takes one VG batch (RPN + VG box losses) and, with a COCO dataset, one COCO
batch (RPN + COCO box + mask losses, prefixed ``coco_``); all losses are summed with weight 1
(METHODS.md §2.2). The detector trains in one process (rank 0 under torchrun; the other
ranks wait and then load it).
"""
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch
from torch import Tensor

from ..build_lock import build_lock
from ..detection.build import (build_detector_datasets, build_detector_model,
                               class_counts)
from ..detection.cache_key import (detector_config_hash, detector_output_dir,
                                   explain_missing_detector, training_threads,
                                   write_cache_key)
from ..detection.joint_mask_rcnn import JointMaskRCNN
from ..detection.training import JointDetectorLosses, detection_stream
from ..methods.base import Method, Stage
from .trainer import Trainer

__all__ = ["DetectorLoss", "train_detector", "train_detector_from_config", "ensure_detector"]

logger = logging.getLogger(__name__)


class DetectorLoss(Method):
    """The detector's losses as the training method (weight 1 each, summed by the trainer)."""
    name = "detector"

    def stages(self, max_iter: int) -> List[Stage]:
        return [Stage("detector", max_iter)]

    def loss(self, model, batch, outputs: Dict[str, Tensor]) -> Dict[str, Tensor]:
        return outputs


def train_detector(model: JointMaskRCNN, vg_dataset, coco_dataset, cfg, *, output_dir,
                   resume: bool = False) -> Dict:
    """Train ``model`` jointly on VG boxes and (if given) COCO masks with the trainer.

    Args:
        model: a :class:`JointMaskRCNN` (with a COCO head iff ``coco_dataset`` is given).
        vg_dataset, coco_dataset: scene-graph datasets (see module docstring).
        cfg (CfgNode): the full config; ``DETECTOR.SOLVER`` is the schedule,
            ``DETECTOR.COCO_IMS_PER_BATCH``, ``INPUT.RANDOM_FLIP``, ``SEED``,
            ``DATALOADER.NUM_WORKERS`` and ``MODEL.DEVICE`` are read too.
        output_dir: checkpoints (``model_final.pth`` ...), ``metrics.json`` and the
            resolved ``config.yaml`` go here.
        resume: continue from the last checkpoint in ``output_dir``.

    Returns:
        dict with ``checkpoint`` (path of the final weights), ``iteration``,
        ``train_time_s`` (wall clock of this call) and ``cpu_time_s`` (this process's CPU
        time, all threads).
    """
    if coco_dataset is not None and not model.mask_on:
        raise ValueError("train_detector: a COCO dataset needs a model with num_mask_classes > 0")
    output_dir = Path(output_dir)
    run = cfg.clone()
    run.defrost()
    run.SOLVER = cfg.DETECTOR.SOLVER.clone()
    run.OUTPUT_DIR = str(output_dir)
    run.MODEL.WEIGHTS = ""  # a relation model's weights are not the detector's
    run.TEST.EVAL_PERIOD = 0  # box / mask AP are computed after training
    run.freeze()
    stream = detection_stream(
        vg_dataset, coco_dataset, ims_per_batch=run.SOLVER.IMS_PER_BATCH,
        coco_ims_per_batch=cfg.DETECTOR.COCO_IMS_PER_BATCH or None,
        hflip=0.5 if cfg.INPUT.RANDOM_FLIP == "horizontal" else 0.0, seed=cfg.SEED,
        num_workers=cfg.DATALOADER.NUM_WORKERS)
    trainer = Trainer(run, JointDetectorLosses(model), DetectorLoss(), vg_dataset,
                      train_loader=stream, single_process=True)
    t0, c0 = time.perf_counter(), time.process_time()
    trainer.train(resume=resume)
    return {"checkpoint": output_dir / "model_final.pth", "iteration": trainer.iter,
            "train_time_s": time.perf_counter() - t0, "cpu_time_s": time.process_time() - c0}


@contextlib.contextmanager
def torch_threads(num_threads: int):
    """torch's intra-op threads set to ``num_threads`` inside, restored after (a run that
    trains its detector first keeps its own thread count for the rest)."""
    before = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_detector_from_config(cfg, resume: bool = False, evaluate: Optional[bool] = None,
                               progress: bool = True) -> Dict:
    """Train the detector of ``cfg`` (``python train.py --task detector``).

    Writes checkpoints to :func:`detector_output_dir` (``model_final.pth``, resumable with
    ``resume=True``), evaluates box AP on VG test and mask AP on COCO val (unless
    ``evaluate`` / ``DETECTOR.EVAL_AFTER_TRAIN`` is False) and writes them to
    ``test_results.json`` (the training log is the trainer's ``metrics.json``).

    Returns:
        dict with ``checkpoint``, ``output_dir``, ``train_time_s``, ``iteration`` and
        ``metrics`` (``vg_test/AP50``, ``coco_val/segm/AP50``, ... in percent).
    """
    if cfg.DETECTOR.NAME.lower() == "detectron2":  # one line before any work if missing
        from ..detection.detectron2_backend import require_detectron2
        require_detectron2()
    with torch_threads(training_threads(cfg)):  # the weights depend on it: see its key
        return _train_detector_from_config(cfg, resume, evaluate, progress)


def _train_detector_from_config(cfg, resume, evaluate, progress) -> Dict:
    from ..detection.evaluation import evaluate_detector
    detectron2 = cfg.DETECTOR.NAME.lower() == "detectron2"
    ds = build_detector_datasets(cfg)
    data = {"vg": ds["vg_train"], "coco": ds.get("coco_train")}
    c, k = class_counts(cfg, data)
    torch.manual_seed(cfg.get("SEED", 0))
    out_dir = detector_output_dir(cfg)
    from . import distributed as du
    main = du.is_main_process()
    if main:
        write_cache_key(cfg, out_dir)
    if detectron2:
        from ..detection.detectron2_backend.training import (
            inference_model, train_detectron2_detector)
        t0, c0 = time.perf_counter(), time.process_time()
        run = train_detectron2_detector(cfg, data["vg"], data["coco"], c, k, out_dir,
                                        resume=resume)
        res = {"checkpoint": run["checkpoint"], "iteration": run["iteration"],
               "train_time_s": time.perf_counter() - t0,
               "cpu_time_s": time.process_time() - c0}
        model = inference_model(run["model"], run["config"])
        if not main:  # the other DDP ranks: training only
            return {**res, "output_dir": out_dir, "metrics": {}}
    else:
        model = build_detector_model(cfg, c, k)
        if cfg.DETECTOR.INIT_WEIGHTS:
            from ..checkpoint_io import load_model_state, read_checkpoint
            from ..detection.training import detector_state_dict
            init = cfg.DETECTOR.INIT_WEIGHTS
            load_model_state(model, {"model": detector_state_dict(read_checkpoint(init))}, init)
        res = train_detector(model, data["vg"], data["coco"], cfg, output_dir=out_dir,
                             resume=resume)
    res["output_dir"] = out_dir
    meta = {"num_classes": c, "num_mask_classes": k, "config_hash": detector_config_hash(cfg),
            "backend": cfg.DETECTOR.NAME.lower()}
    (out_dir / "detector_meta.json").write_text(json.dumps(meta))
    metrics = {}
    if cfg.DETECTOR.EVAL_AFTER_TRAIN if evaluate is None else evaluate:
        model.eval()
        for key, v in evaluate_detector(model, ds["vg_test"], dataset_type="vg",
                                        progress=progress).items():
            metrics[f"vg_test/{key}"] = v
        if k > 0:
            for key, v in evaluate_detector(model, ds["coco_val"], dataset_type="coco",
                                            progress=progress).items():
                metrics[f"coco_val/{key}"] = v
        metrics["train_time_s"] = res["train_time_s"]
        metrics["cpu_time_s"] = res["cpu_time_s"]
        metrics["iterations"] = res["iteration"]
        (out_dir / "test_results.json").write_text(json.dumps(metrics, indent=1))
        logger.info("detector: %s", " ".join(f"{a}={b:.1f}" for a, b in metrics.items()))
    res["metrics"] = metrics
    return res


def ensure_detector(cfg) -> None:
    """Train the detector of ``cfg`` into the cache unless ``DETECTOR.WEIGHTS`` is set or
    one trained with this config is there (an interrupted training resumes)."""
    if cfg.DETECTOR.WEIGHTS:
        return
    out = detector_output_dir(cfg)
    if (out / "model_final.pth").is_file():
        return
    with build_lock(out):  # another run training the same detector: wait and reuse it
        if (out / "model_final.pth").is_file():
            return
        logger.info("training the detector into %s: %s", out, explain_missing_detector(cfg))
        train_detector_from_config(cfg, resume=True)
