"""One training loop for every method (see :mod:`pyg_sgg.methods.base`).

Per iteration: next batch → ``batch_transform`` (e.g. candidate-pair sampling) → forward
(optionally under autocast) → ``method.loss`` → backward → ``method.after_backward`` →
per-optimiser gradient clipping → every optimiser steps → ``method.after_step`` → every
schedule steps. Periodically: metrics (``metrics.json`` lines + TensorBoard events),
evaluation on the validation set (best checkpoint, plateau schedule), checkpoints.

A method may also define ``stage_dataset(stage, dataset) -> dataset`` to train a stage on
a subset of the training set (HML's per-stage predicate filtering).

Everything that decides the rest of a run is checkpointed (model, optimisers, schedules, AMP
scaler, method state and modules, every process's RNG states, the data stream position via
the iteration, stage), so ``train(resume=True)`` continues bit-identically on CPU.
"""
import logging
import signal
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from ..checkpoint_io import load_model_state
from . import distributed as du
from .checkpoint import (Checkpointer, atomic_write_text, get_rng_state,
                         set_rng_state)
from .inference import default_collate, inference_on_dataset, resolve_device
from .metrics_writer import MetricsWriter, flatten_results
from .samplers import TrainingSampler
from .solver import build_lr_scheduler, build_optimizer, clip_gradients

__all__ = ["Trainer", "seed_all"]

logger = logging.getLogger(__name__)


def seed_all(seed: int) -> None:
    """Seed python, numpy and torch (each process: ``seed + rank``)."""
    import random

    import numpy as np
    seed = int(seed) + du.get_rank()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Train ``model`` with ``method`` on ``train_set``.

    Args:
        cfg (CfgNode): the resolved config (``SOLVER``, ``TEST``, ``OUTPUT_DIR``, ``SEED``...).
        model (torch.nn.Module): ``model(batch) -> outputs``; ``model.predict(batch) -> dict``
            (the predictions format) for evaluation.
        method (Method): the training framework (``loss`` and hooks).
        train_set (Dataset): items collated by ``collate_fn``.
        val_set (Dataset, optional): for periodic evaluation.
        evaluator (optional): ``reset()`` / ``process(predictions_dict)`` / ``evaluate()``.
        collate_fn (callable, optional): list of items → batch. (default: PyG ``Batch``)
        batch_transform (callable, optional): ``batch -> batch`` applied to training batches
            after moving them to the device (e.g. candidate-pair sampling); it may use the
            global torch RNG (checkpointed).
        output_dir (str, optional): overrides ``cfg.OUTPUT_DIR``.
        extra_predictions (dict, optional): global keys added to the gathered predictions
            before scoring (``train_triplets``, ``predicate_names``).
        train_loader (callable, optional): ``(stage, start_iteration) -> iterable`` of
            training batches from iteration ``start_iteration`` of ``stage`` on, for data
            streams the default loader does not make (the detector's VG + COCO batches);
            deterministic in its arguments so that a resumed run sees the same batches.
            (default: shuffled ``train_set`` batches of ``SOLVER.IMS_PER_BATCH``)
        single_process (bool): train in this process alone even under an initialised
            process group (the detector is trained by rank 0 while the others wait).
            (default: :obj:`False`)

    Attributes methods may use in their hooks: ``cfg``, ``device``, ``model`` (unwrapped),
    ``train_set``, ``collate_fn``, ``batch_transform``, ``optimizers`` / ``schedulers``
    (name → object; ``"model"`` first), ``iter`` (completed iterations, all stages),
    ``stage_index``, ``stage_iter``, ``output_dir``, ``add_optimizer(...)``,
    ``reset_schedulers(max_iter)``, ``evaluate(dataset)``.
    """

    def __init__(self, cfg, model: torch.nn.Module, method, train_set, *, val_set=None,
                 evaluator=None, collate_fn: Optional[Callable] = None,
                 batch_transform: Optional[Callable] = None, output_dir=None,
                 extra_predictions: Optional[Dict[str, Any]] = None,
                 train_loader: Optional[Callable] = None, single_process: bool = False):
        self.cfg = cfg
        self.device = resolve_device(cfg)
        self.model = model.to(self.device)
        self.method = method
        self.train_set, self.val_set, self.evaluator = train_set, val_set, evaluator
        self.collate_fn = collate_fn or default_collate
        self.batch_transform = batch_transform
        self.train_loader = train_loader
        self.extra_predictions = dict(extra_predictions or {})
        self.output_dir = Path(output_dir or cfg.OUTPUT_DIR)
        self.rank, self.world_size = ((0, 1) if single_process else
                                      (du.get_rank(), du.get_world_size()))
        self.is_main = self.rank == 0
        if cfg.SOLVER.IMS_PER_BATCH % self.world_size != 0:
            raise ValueError(f"config key SOLVER.IMS_PER_BATCH ({cfg.SOLVER.IMS_PER_BATCH}) "
                             f"must be divisible by the number of processes ({self.world_size})")
        self.iter = 0          # completed iterations over all stages
        self.stage_index = 0   # current stage
        self.stage_iter = 0    # completed iterations of the current stage
        self.best = None       # {"metric", "value", "iteration"}
        self.last_results: Dict[str, float] = {}
        self.optimizers: "OrderedDict[str, torch.optim.Optimizer]" = OrderedDict()
        self.optimizer_params: Dict[str, List[torch.nn.Parameter]] = {}
        self.schedulers: Dict[str, Any] = {}
        self.checkpointer = Checkpointer(self.output_dir, cfg.SOLVER.MAX_TO_KEEP)
        self._metrics: Optional[MetricsWriter] = None
        self._resumed_mid_stage = False
        self._stop_requested = False

        amp = cfg.SOLVER.AMP.ENABLED
        self.amp_dtype = torch.bfloat16 if self.device.type == "cpu" else torch.float16
        self.amp = amp
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp and self.device.type == "cuda")

        self._method_modules_to_device()
        self.method.setup(self.model, self)
        self._method_modules_to_device()
        claimed = {id(p) for ps in self.optimizer_params.values() for p in ps}
        params = [p for p in self.model.parameters() if p.requires_grad and id(p) not in claimed]
        extra = list(self.optimizers.items())
        self.optimizers.clear()
        self.add_optimizer("model", build_optimizer(cfg, params), params)
        for name, opt in extra:
            self.optimizers[name] = opt
        self.ddp_model = self.model
        # parameters outside the DDP-wrapped model (method modules such as EBM's energy
        # model): same initial values on every rank, gradients averaged by hand
        self._outside_params = [p for n, ps in self.optimizer_params.items() if n != "model"
                                for p in ps if p.requires_grad]
        if self.world_size > 1:
            kw = {"device_ids": [self.device.index]} if self.device.type == "cuda" else {}
            self.ddp_model = DistributedDataParallel(
                self.model, find_unused_parameters=cfg.MODEL.DDP_FIND_UNUSED_PARAMETERS, **kw)
            for m in self.method.modules().values():
                for t in list(m.parameters()) + list(m.buffers()):
                    torch.distributed.broadcast(t.data, src=0)

    def _method_modules_to_device(self) -> None:
        for m in self.method.modules().values():
            m.to(self.device)

    def _average_outside_gradients(self) -> None:
        """Average, over processes, the gradients of the parameters outside the DDP module
        (method modules such as EBM's energy model) in one all-reduce. The trainer is the
        only owner of this averaging: methods never all-reduce gradients themselves."""
        if self.world_size == 1 or not self._outside_params:
            return
        for p in self._outside_params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        grads = [p.grad for p in self._outside_params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    # -- optimisers ---------------------------------------------------------------------
    def add_optimizer(self, name: str, optimizer: Optional[torch.optim.Optimizer] = None,
                      params: Optional[Iterable[torch.nn.Parameter]] = None):
        """Register an extra optimiser (e.g. EBM's energy model).

        Args:
            name (str): checkpoint key.
            optimizer (Optimizer, optional): built from ``cfg.SOLVER`` over ``params`` if None.
            params (iterable, optional): the parameters it updates (clipped together);
                default: the optimiser's parameters.

        Every optimiser gets its own schedule built from ``cfg.SOLVER``, steps every iteration
        and is checkpointed. Its parameters are excluded from the ``"model"`` optimiser.
        """
        if name in self.optimizers:
            raise KeyError(f"optimizer {name!r} is already registered")
        if optimizer is None:
            if params is None:
                raise ValueError("add_optimizer needs an optimizer or params")
            params = list(params)
            optimizer = build_optimizer(self.cfg, params)
        if params is None:
            params = [p for g in optimizer.param_groups for p in g["params"]]
        self.optimizers[name] = optimizer
        self.optimizer_params[name] = list(params)
        self.schedulers[name] = build_lr_scheduler(self.cfg, optimizer)
        return optimizer

    def reset_optimizer_state(self, name: str = "model") -> None:
        """Forget optimiser ``name``'s state (momenta, Adam moments): a fresh optimiser over
        the same parameters (HML's child of each stage)."""
        self.optimizers[name].state.clear()

    def reset_schedulers(self, max_iter: int) -> None:
        """Fresh schedules (warm-up again) for a stage of ``max_iter`` iterations."""
        for g_name, opt in self.optimizers.items():
            for g in opt.param_groups:
                g["lr"] = g["initial_lr"]
            self.schedulers[g_name] = build_lr_scheduler(self.cfg, opt, max_iter)

    # -- checkpoints --------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scaler": self.scaler.state_dict(),
            "method": self.method.state_dict(),
            "method_modules": {k: m.state_dict() for k, m in self.method.modules().items()},
            "iteration": self.iter, "stage": self.stage_index, "stage_iter": self.stage_iter,
            "best": self.best,
            "cfg": self.cfg.dump(),
        }

    def save_checkpoint(self, name: Optional[str] = None, tag_last: bool = True) -> None:
        """Collective (gathers every process's RNG state); rank 0 writes."""
        rng = (du.all_gather_object(get_rng_state()) if self.world_size > 1
               else [get_rng_state()])
        if self.is_main:
            state = self.state_dict()
            state["rng"] = rng
            self.checkpointer.save(name or f"model_{self.iter:07d}", state, tag_last)
        if self.world_size > 1:
            du.synchronize()

    def _load_modules(self, state: Dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        mods = self.method.modules()
        for k, sd in state.get("method_modules", {}).items():
            if k in mods:
                mods[k].load_state_dict(sd)

    def load_checkpoint(self, state: Dict[str, Any]) -> None:
        """Restore everything from a checkpoint dict (after :meth:`_load_modules`)."""
        self._load_modules(state)
        missing = set(self.optimizers) ^ set(state["optimizers"])
        if missing:
            raise KeyError(f"checkpoint optimizers {sorted(state['optimizers'])} do not match "
                           f"this run's {sorted(self.optimizers)}")
        for k, sd in state["optimizers"].items():
            self.optimizers[k].load_state_dict(sd)
        for k, sd in state["schedulers"].items():
            self.schedulers[k].load_state_dict(sd)
        self.scaler.load_state_dict(state["scaler"])
        self.method.load_state_dict(state["method"])
        self.iter, self.stage_index = state["iteration"], state["stage"]
        self.stage_iter, self.best = state["stage_iter"], state["best"]
        rng = state.get("rng")
        if rng:
            if len(rng) != self.world_size:
                logger.warning("checkpoint has RNG states of %d processes, this run has %d; "
                               "the continuation is not bit-identical", len(rng),
                               self.world_size)
            set_rng_state(rng[self.rank % len(rng)])

    # -- logging ------------------------------------------------------------------------
    def _open_logs(self, resume: bool) -> None:
        if not self.is_main:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.checkpointer.remove_stale_temp_files()
        atomic_write_text(self.cfg.dump(), self.output_dir / "config.yaml")
        self._metrics = MetricsWriter(self.output_dir, self.iter if resume else None)

    def log(self, metrics: Dict[str, float]) -> None:
        """Write one ``metrics.json`` line and TensorBoard scalars (rank 0)."""
        if self.is_main and self._metrics is not None:
            self._metrics.write(self.iter, metrics)

    def _close_logs(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None

    # -- data ---------------------------------------------------------------------------
    def _train_loader(self, stage) -> Iterable:
        """Stage ``stage``'s data stream from its current position. A method may train a
        stage on a subset (HML) by defining ``stage_dataset(stage, dataset) -> dataset``."""
        if self.train_loader is not None:
            return self.train_loader(stage, self.stage_iter)
        dataset = self.train_set
        if hasattr(self.method, "stage_dataset"):
            dataset = self.method.stage_dataset(stage, dataset)
        if len(dataset) == 0:
            raise ValueError(f"stage {stage.name!r} has no training images")
        per_rank = self.cfg.SOLVER.IMS_PER_BATCH // self.world_size
        seed = self.cfg.SEED + 7919 * self.stage_index
        sampler = TrainingSampler(len(dataset), seed, self.cfg.DATALOADER.SHUFFLE, self.rank,
                                  self.world_size,
                                  start=self.stage_iter * self.cfg.SOLVER.IMS_PER_BATCH)
        g = torch.Generator()  # the loader draws worker seeds from this, not the global RNG
        g.manual_seed(seed + self.stage_iter)
        return DataLoader(dataset, per_rank, sampler=sampler,
                          collate_fn=self.collate_fn, generator=g,
                          num_workers=self.cfg.DATALOADER.NUM_WORKERS)

    # -- evaluation ---------------------------------------------------------------------
    def inference(self, dataset) -> Dict[str, Any]:
        """Predictions for every image of ``dataset``, gathered from all processes, plus
        ``extra_predictions``; the merged dict on rank 0 (``{}`` on the others)."""
        preds = inference_on_dataset(self.model, dataset, self.cfg, self.collate_fn,
                                     self.device)
        if preds:
            preds.update(self.extra_predictions)
        return preds

    def score(self, preds: Dict[str, Any], evaluator=None, raw: bool = False):
        """Results of ``evaluator`` (default: the trainer's) on merged predictions: flat
        ``{name: float}``, or the evaluator's own ``evaluate()`` output with ``raw``."""
        evaluator = evaluator if evaluator is not None else self.evaluator
        evaluator.reset()
        if preds:
            evaluator.process(preds)
        out = evaluator.evaluate()
        return out if raw else flatten_results(out)

    def evaluate(self, dataset=None, evaluator=None) -> Dict[str, float]:
        """Run inference on ``dataset`` (default: the validation set), score on rank 0 and
        return the flat results on every process."""
        dataset = dataset if dataset is not None else self.val_set
        evaluator = evaluator if evaluator is not None else self.evaluator
        if dataset is None or evaluator is None:
            return {}
        preds = self.inference(dataset)
        results = self.score(preds, evaluator) if self.is_main else None
        return du.broadcast_object(results) if self.world_size > 1 else results

    def _after_eval(self, results: Dict[str, float]) -> None:
        self.last_results = results
        metric, mode = self.cfg.TEST.BEST_METRIC, self.cfg.TEST.BEST_MODE
        if results:
            self.log({f"val/{k}": v for k, v in results.items()})
        if metric not in results:
            if results:
                logger.warning("TEST.BEST_METRIC %r is not among the results %s", metric,
                               sorted(results))
            return
        value = results[metric]
        for s in self.schedulers.values():
            s.observe(value)
        better = (self.best is None or (value > self.best["value"] if mode == "max"
                                        else value < self.best["value"]))
        if better:
            self.best = {"metric": metric, "value": value, "iteration": self.iter}
            self.save_checkpoint("model_best", tag_last=False)

    # -- training -----------------------------------------------------------------------
    def resume_or_load(self, resume: bool = True) -> bool:
        """With ``resume``, restore the last checkpoint of the output folder (if any), else
        initialise the model from ``MODEL.WEIGHTS`` (if set). Returns whether it resumed."""
        last = self.checkpointer.last_checkpoint() if resume else None
        if last is not None:
            state = Checkpointer.load(last)
            self._load_modules(state)
            stages = self.method.stages(self.cfg.SOLVER.MAX_ITER)
            self.iter, self.stage_index = state["iteration"], state["stage"]
            self.stage_iter = state["stage_iter"]
            if state["stage_iter"] > 0 and state["stage"] < len(stages):
                # replay the stage's set-up (parent models, extra optimisers...), whose
                # effects the checkpoint then overwrites
                self.method.on_stage_start(stages[state["stage"]], self.model, self)
                self._resumed_mid_stage = True
            self.load_checkpoint(state)
            logger.info("resumed from %s at iteration %d", last, self.iter)
            return True
        if self.cfg.MODEL.WEIGHTS:
            if not Path(self.cfg.MODEL.WEIGHTS).expanduser().is_file():
                raise FileNotFoundError(f"config key MODEL.WEIGHTS: {self.cfg.MODEL.WEIGHTS} "
                                        f"not found")
            path = Path(self.cfg.MODEL.WEIGHTS).expanduser()
            load_model_state(self.model, Checkpointer.load(path), path)
        return False

    def _handle_stop_signal(self, signum, frame) -> None:
        self._stop_requested = True
        logger.warning("signal %d: stopping after this iteration (checkpoint first)", signum)

    def _stop_now(self) -> bool:
        if self.world_size == 1:
            return self._stop_requested
        flag = torch.tensor([float(self._stop_requested)], device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)  # same on all
        return bool(flag.item())

    def train(self, resume: bool = False) -> Dict[str, float]:
        """Run (or continue) every stage; returns the last validation results.

        SIGINT / SIGTERM (Ctrl-C, a scheduler's pre-emption) stop after the current
        iteration with a checkpoint; then :class:`KeyboardInterrupt` is raised.
        """
        self._resumed_mid_stage = False
        self._stop_requested = False
        resumed = self.resume_or_load(resume)
        self._open_logs(resumed)
        stages = self.method.stages(self.cfg.SOLVER.MAX_ITER)
        old_handlers = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                old_handlers[sig] = signal.signal(sig, self._handle_stop_signal)
        try:
            for si in range(self.stage_index, len(stages)):
                stage = stages[si]
                if not (self._resumed_mid_stage and si == self.stage_index):
                    self.stage_index, self.stage_iter = si, 0
                    if si > 0:
                        self.reset_schedulers(stage.max_iter)
                    self.method.on_stage_start(stage, self.model, self)
                self._trainable = None  # a stage may bring new modules (HML's children)
                self._run_stage(stage, final=si == len(stages) - 1)
                self.method.on_stage_end(stage, self.model, self)
                if si + 1 < len(stages):  # a clean boundary to resume from
                    self.stage_index, self.stage_iter = si + 1, 0
                    self.save_checkpoint()
                self._resumed_mid_stage = False
        finally:
            for sig, h in old_handlers.items():
                signal.signal(sig, h)
            self._close_logs()
        return self.last_results

    def _run_stage(self, stage, final: bool) -> None:
        from tqdm import tqdm

        cfg = self.cfg
        if self.stage_iter >= stage.max_iter:
            return
        data = iter(self._train_loader(stage))
        self.ddp_model.train()
        bar = tqdm(total=stage.max_iter, initial=self.stage_iter, desc=stage.name,
                   disable=None if self.is_main else True, dynamic_ncols=True)
        t0, n0 = time.perf_counter(), self.iter
        while self.stage_iter < stage.max_iter:
            losses = self.run_step(next(data))
            self.iter += 1
            self.stage_iter += 1
            bar.update(1)
            last = self.stage_iter == stage.max_iter
            if self.iter % cfg.SOLVER.LOG_PERIOD == 0 or last:
                vals = torch.stack([v.detach().float() for v in losses.values()]) \
                    if losses else torch.zeros(0)
                if self.world_size > 1 and vals.numel():
                    torch.distributed.all_reduce(vals)
                    vals /= self.world_size
                rec = {k: float(v) for k, v in zip(losses, vals)}
                rec["total_loss"] = float(vals.sum())
                rec["lr"] = self.optimizers["model"].param_groups[0]["lr"]
                rec["time"] = (time.perf_counter() - t0) / max(1, self.iter - n0)
                rec["stage"] = stage.name
                bar.set_postfix(loss=f"{rec['total_loss']:.4f}", lr=f"{rec['lr']:.2e}")
                if bar.disable and self.is_main:  # no progress bar (not a terminal): a line
                    logger.info("%s iter %d/%d  loss %.4f  lr %.2e  %.3f s/iter", stage.name,
                                self.stage_iter, stage.max_iter, rec["total_loss"], rec["lr"],
                                rec["time"])
                self.log({k: v for k, v in rec.items() if k != "stage"})
                t0, n0 = time.perf_counter(), self.iter
            period = cfg.TEST.EVAL_PERIOD
            if (period > 0 and self.iter % period == 0) or (last and final):
                self._after_eval(self.evaluate())
            saved = self.iter % cfg.SOLVER.CHECKPOINT_PERIOD == 0 or last
            if saved:
                self.save_checkpoint("model_final" if (last and final) else None)
            if not (last and final) and self._stop_now():
                if not saved:
                    self.save_checkpoint()
                bar.close()
                raise KeyboardInterrupt(f"stopped at iteration {self.iter}; checkpoint saved "
                                        f"in {self.output_dir} (continue with --resume)")
        bar.close()

    def _first_non_finite_gradient(self) -> Optional[str]:
        """Name of the first parameter (of any optimiser) whose gradient has a NaN / inf, or
        ``None``; one fused norm over all gradients."""
        if getattr(self, "_trainable", None) is None:  # the parameter list, once
            self._trainable = list(self._named_trainable())
        named = [(n, p) for n, p in self._trainable if p.grad is not None]
        if not named:
            return None
        norms = torch._foreach_norm([p.grad for _, p in named])
        finite = torch.isfinite(torch.stack(norms))
        if bool(finite.all()):
            return None
        return named[int((~finite).nonzero()[0])][0]

    def _named_trainable(self):
        seen = set()
        for prefix, module in [("", self.model)] + [(f"{k}.", m) for k, m in
                                                    self.method.modules().items()]:
            for n, p in module.named_parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield prefix + n, p

    def _non_finite(self, what: str, losses) -> Dict[str, torch.Tensor]:
        """``SOLVER.NONFINITE``: stop with one line, or skip this step's update."""
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        self._skipped_in_a_row = getattr(self, "_skipped_in_a_row", 0) + 1
        last = self.checkpointer.last_checkpoint()
        where = (f"last checkpoint {last} (resume with --resume)" if last is not None
                 else "no checkpoint yet")
        mode = self.cfg.SOLVER.NONFINITE.lower()
        limit = self.cfg.SOLVER.MAX_SKIPPED_STEPS
        if mode != "skip" or self._skipped_in_a_row > limit:
            why = (f" ({self._skipped_in_a_row} steps in a row, SOLVER.MAX_SKIPPED_STEPS "
                   f"{limit})" if mode == "skip" else "; SOLVER.NONFINITE skip skips such steps")
            raise FloatingPointError(f"iteration {self.iter}: {what}{why}; {where}")
        logger.warning("iteration %d: %s: step skipped (SOLVER.NONFINITE skip)", self.iter, what)
        self.skipped_steps = getattr(self, "skipped_steps", 0) + 1
        return {k: v.detach().nan_to_num(0.0, 0.0, 0.0) for k, v in losses.items()}

    def run_step(self, batch) -> Dict[str, torch.Tensor]:
        """One iteration on ``batch``; returns the loss dict (detached values)."""
        batch = batch.to(self.device)
        if self.batch_transform is not None:
            batch = self.batch_transform(batch)
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, self.amp_dtype, enabled=self.amp):
            outputs = self.ddp_model(batch)
            losses = self.method.loss(self.model, batch, outputs)
        if not losses:
            raise ValueError(f"method {self.method.name!r} returned no losses")
        total = sum(v.float() for v in losses.values())
        if not torch.isfinite(total):
            bad = [k for k, v in losses.items() if not torch.isfinite(v.detach()).all()]
            values = ", ".join(f"{k} = {float(losses[k].detach())}" for k in bad)
            return self._non_finite(f"non-finite loss ({values})", losses)
        self.scaler.scale(total).backward()
        self._average_outside_gradients()
        for opt in self.optimizers.values():
            self.scaler.unscale_(opt)
        self.method.after_backward(self.model)
        if not self.amp or self.amp_dtype != torch.float16:  # the fp16 scaler skips by itself
            bad_param = self._first_non_finite_gradient()
            if bad_param is not None:
                return self._non_finite(f"non-finite gradient of {bad_param}", losses)
        self._skipped_in_a_row = 0
        for name in self.optimizers:
            clip_gradients(self.cfg, self.optimizer_params[name])
        for opt in self.optimizers.values():
            self.scaler.step(opt)
        self.scaler.update()
        self.method.after_step(self.model)
        for s in self.schedulers.values():
            s.step()
        return {k: v.detach() for k, v in losses.items()}
