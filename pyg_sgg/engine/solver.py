"""Optimisers and learning-rate schedules from ``cfg.SOLVER``.

Both schedules set ``group["lr"] = initial_lr * factor`` once per iteration (:meth:`step`);
the plateau schedule also reads the validation metric (:meth:`observe`). Their state is a
plain dict, checkpointed by the trainer.
"""
import math
from bisect import bisect_right
from typing import Any, Dict, Iterable, Sequence

import torch

__all__ = ["build_optimizer", "build_lr_scheduler", "WarmupMultiStepLR", "WarmupCosineLR",
           "WarmupReduceLROnPlateau", "clip_gradients", "OPTIMIZERS", "LR_SCHEDULERS"]

#: ``SOLVER.OPTIMIZER`` / ``SOLVER.LR_SCHEDULER_NAME`` choices (``DETECTOR.SOLVER`` too).
OPTIMIZERS = ("SGD", "Adam", "AdamW")
LR_SCHEDULERS = ("WarmupMultiStepLR", "WarmupCosineLR", "WarmupReduceLROnPlateau")


def build_optimizer(cfg, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """``SOLVER.OPTIMIZER`` ('SGD' | 'Adam' | 'AdamW') with ``BASE_LR``, ``MOMENTUM`` (Adam's
    beta1), ``WEIGHT_DECAY``."""
    s = cfg.SOLVER
    params = [p for p in params if p.requires_grad]
    name = s.OPTIMIZER.lower()
    if name == "sgd":
        return torch.optim.SGD(params, lr=s.BASE_LR, momentum=s.MOMENTUM,
                               weight_decay=s.WEIGHT_DECAY)
    if name == "adam":
        return torch.optim.Adam(params, lr=s.BASE_LR, betas=(s.MOMENTUM, 0.999),
                                weight_decay=s.WEIGHT_DECAY)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=s.BASE_LR, betas=(s.MOMENTUM, 0.999),
                                 weight_decay=s.WEIGHT_DECAY)
    raise ValueError(f"config key SOLVER.OPTIMIZER must be 'SGD', 'Adam' or 'AdamW', got "
                     f"{s.OPTIMIZER!r}")


class _Schedule:
    def __init__(self, optimizer: torch.optim.Optimizer, warmup_iters: int,
                 warmup_factor: float, warmup_method: str):
        if warmup_method not in ("linear", "constant"):
            raise ValueError("config key SOLVER.WARMUP_METHOD must be 'linear' or 'constant', "
                             f"got {warmup_method!r}")
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.warmup_iters, self.warmup_factor = warmup_iters, warmup_factor
        self.warmup_method = warmup_method
        self.last_iter = 0
        self._apply()

    def _warmup(self) -> float:
        if self.last_iter >= self.warmup_iters:
            return 1.0
        if self.warmup_method == "constant":
            return self.warmup_factor
        alpha = self.last_iter / self.warmup_iters
        return self.warmup_factor * (1 - alpha) + alpha

    def factor(self) -> float:
        raise NotImplementedError

    def _apply(self) -> None:
        f = self.factor()
        for g in self.optimizer.param_groups:
            g["lr"] = g["initial_lr"] * f

    def step(self) -> None:
        """Advance one iteration."""
        self.last_iter += 1
        self._apply()

    def observe(self, value: float) -> None:
        """A new validation metric value (only the plateau schedule uses it)."""

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> Dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._apply()


class WarmupMultiStepLR(_Schedule):
    """Warm-up, then multiply by ``gamma`` at each of ``milestones`` (iterations)."""

    def __init__(self, optimizer, milestones: Sequence[int], gamma: float = 0.1,
                 warmup_iters: int = 0, warmup_factor: float = 0.1,
                 warmup_method: str = "linear"):
        if list(milestones) != sorted(milestones):
            raise ValueError(f"config key SOLVER.STEPS must be increasing, got {milestones}")
        self.milestones, self.gamma = list(milestones), gamma
        super().__init__(optimizer, warmup_iters, warmup_factor, warmup_method)

    def factor(self) -> float:
        return self._warmup() * self.gamma ** bisect_right(self.milestones, self.last_iter)


class WarmupCosineLR(_Schedule):
    """Warm-up, then a half cosine from 1 to 0 over ``max_iter`` iterations."""

    def __init__(self, optimizer, max_iter: int, warmup_iters: int = 0,
                 warmup_factor: float = 0.1, warmup_method: str = "linear"):
        self.max_iter = max(1, int(max_iter))
        super().__init__(optimizer, warmup_iters, warmup_factor, warmup_method)

    def factor(self) -> float:
        progress = min(1.0, self.last_iter / self.max_iter)
        return self._warmup() * 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupReduceLROnPlateau(_Schedule):
    """Warm-up, then multiply by ``gamma`` when the metric has not improved for ``patience``
    evaluations (at most ``max_decays`` times), as Scene-Graph-Benchmark's schedule."""

    def __init__(self, optimizer, gamma: float = 0.1, patience: int = 2, mode: str = "max",
                 threshold: float = 1e-4, cooldown: int = 0, max_decays: int = 3,
                 warmup_iters: int = 0, warmup_factor: float = 0.1,
                 warmup_method: str = "linear"):
        if mode not in ("max", "min"):
            raise ValueError(f"config key TEST.BEST_MODE must be 'max' or 'min', got {mode!r}")
        self.gamma, self.patience, self.mode = gamma, patience, mode
        self.threshold, self.cooldown, self.max_decays = threshold, cooldown, max_decays
        self.best = None
        self.bad_evals = 0
        self.cooldown_left = 0
        self.num_decays = 0
        super().__init__(optimizer, warmup_iters, warmup_factor, warmup_method)

    def factor(self) -> float:
        return self._warmup() * self.gamma ** self.num_decays

    def observe(self, value: float) -> None:
        sign = 1.0 if self.mode == "max" else -1.0
        if self.best is None or sign * (value - self.best) > self.threshold:
            self.best, self.bad_evals = value, 0
        else:
            self.bad_evals += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_evals = 0
        if self.bad_evals > self.patience and self.num_decays < self.max_decays:
            self.num_decays += 1
            self.cooldown_left, self.bad_evals = self.cooldown, 0
            self._apply()


def build_lr_scheduler(cfg, optimizer: torch.optim.Optimizer, max_iter: int = None):
    """The schedule named by ``SOLVER.LR_SCHEDULER_NAME``; ``STEPS`` are scaled by
    ``max_iter / SOLVER.MAX_ITER`` (for methods whose stages have other lengths)."""
    s = cfg.SOLVER
    common = dict(warmup_iters=s.WARMUP_ITERS, warmup_factor=s.WARMUP_FACTOR,
                  warmup_method=s.WARMUP_METHOD)
    if s.LR_SCHEDULER_NAME == "WarmupMultiStepLR":
        scale = 1.0 if not max_iter or not s.MAX_ITER else max_iter / s.MAX_ITER
        steps = [int(round(x * scale)) for x in s.STEPS]
        return WarmupMultiStepLR(optimizer, steps, s.GAMMA, **common)
    if s.LR_SCHEDULER_NAME == "WarmupCosineLR":
        return WarmupCosineLR(optimizer, max_iter or s.MAX_ITER, **common)
    if s.LR_SCHEDULER_NAME == "WarmupReduceLROnPlateau":
        p = s.PLATEAU
        return WarmupReduceLROnPlateau(optimizer, s.GAMMA, p.PATIENCE, cfg.TEST.BEST_MODE,
                                       p.THRESHOLD, p.COOLDOWN, p.MAX_DECAYS, **common)
    raise ValueError("config key SOLVER.LR_SCHEDULER_NAME must be 'WarmupMultiStepLR', "
                     f"'WarmupCosineLR' or 'WarmupReduceLROnPlateau', got "
                     f"{s.LR_SCHEDULER_NAME!r}")


def clip_gradients(cfg, params) -> float:
    """Clip ``params``' gradients per ``SOLVER.CLIP_GRADIENTS``; returns the total norm
    before clipping (``nan`` when clipping is off or by value)."""
    c = cfg.SOLVER.CLIP_GRADIENTS
    params = [p for p in params if p.grad is not None]
    if not c.ENABLED or not params:
        return float("nan")
    if c.CLIP_TYPE == "norm":
        return float(torch.nn.utils.clip_grad_norm_(params, c.CLIP_VALUE, c.NORM_TYPE))
    if c.CLIP_TYPE == "value":
        torch.nn.utils.clip_grad_value_(params, c.CLIP_VALUE)
        return float("nan")
    raise ValueError("config key SOLVER.CLIP_GRADIENTS.CLIP_TYPE must be 'norm' or 'value', "
                     f"got {c.CLIP_TYPE!r}")
