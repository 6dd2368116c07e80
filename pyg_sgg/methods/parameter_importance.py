"""HML's Model Reconstruction (MR) machinery: per-parameter Fisher and path-integral
importance, normalised at the end of a stage, and the quadratic pull back to the stage's
parameters θ* in the next stage (METHODS.md §3.5).
"""
import re
from typing import Any, Dict, Optional, Sequence

import torch
from torch import Tensor

__all__ = ["ParameterImportance"]

_FMIN, _FMAX = 1e-20, 1.0


def _normalise(x: Tensor, mean: Optional[Tensor] = None) -> Tensor:
    """``sigmoid(log10 x − m)``, ``x`` clamped ≥ 1e-20; ``m`` = ``mean`` or the mean of
    ``log10 x`` over this tensor."""
    lg = torch.log10(x.clamp_min(_FMIN))
    return torch.sigmoid(lg - (lg.mean() if mean is None else mean))


def _log_mean(xs) -> Tensor:
    """Mean of ``log10 clamp(x, 1e-20)`` over every value of the tensors ``xs``."""
    total = sum(torch.log10(x.clamp_min(_FMIN)).double().sum() for x in xs)
    return (total / max(1, sum(x.numel() for x in xs))).float()


class ParameterImportance:
    r"""Fisher EMA, accumulated importance Ω and the MR loss for a model's chosen parameters.

    During a stage, per iteration (gradient :math:`g`, step :math:`\Delta\theta`):

    * :meth:`after_backward`: :math:`F_t = \mathrm{clip}(g^2, 10^{-20}, 1)` (NaN → 0),
      :math:`F \leftarrow \alpha F_t + (1-\alpha) F` (the first iteration sets :math:`F = F_t`);
    * :meth:`after_step`: :math:`\Omega \mathrel{+}= \omega` with
      ``"rwalk"``: :math:`\omega = \max(-g\Delta\theta, 0) / (F\Delta\theta^2 + \epsilon)`, or
      ``"hml_code"``: :math:`\omega = 2\max(g\Delta\theta, 10^{-15}) /
      \max(F\Delta\theta^2, 10^{-20})` (NaN → 0).

    :meth:`end_stage`: :math:`F^* = \sigma(\log_{10}F - \overline{\log_{10}F})`, :math:`\Omega^*`
    likewise (averaged with the previous stage's), :math:`\theta^* = \theta`; F and Ω restart.
    The mean runs over all covered values at once (``normalise="global"``: the authors
    flatten every covered parameter into one vector) or over each tensor (``"per_tensor"``).
    :meth:`loss`: ``mean(λ (F* + Ω*) (θ* − θ)²)`` over all covered values (``"l2"``) or with
    ``|θ* − θ|`` (``"abs"``); 0 before the first :meth:`end_stage`.

    Args:
        include (list of str): regexes; a parameter is covered when its name matches one.
            (default: ``["context", "relation_head"]``)
        exclude (list of str): regexes that remove a parameter. (default: ``["freq_bias"]``)
        alpha (float): Fisher EMA factor. (default: ``0.5``)
        importance (str): ``"rwalk"`` or ``"hml_code"``. (default: ``"rwalk"``)
        distance (str): ``"l2"`` or ``"abs"``. (default: ``"l2"``)
        lam (float): λ. (default: ``1.0``)
        eps (float): ε of the RWalk form. (default: ``1e-20``)
        normalise (str): ``"global"`` or ``"per_tensor"``. (default: ``"global"``)
    """

    def __init__(self, include: Sequence[str] = ("context", "relation_head"),
                 exclude: Sequence[str] = ("freq_bias",), alpha: float = 0.5,
                 importance: str = "rwalk", distance: str = "l2", lam: float = 1.0,
                 eps: float = 1e-20, normalise: str = "global"):
        if normalise not in ("global", "per_tensor"):
            raise ValueError(f"ParameterImportance: field 'normalise' must be 'global' or "
                             f"'per_tensor', got {normalise!r}")
        self.normalise = normalise
        if importance not in ("rwalk", "hml_code"):
            raise ValueError(f"ParameterImportance: field 'importance' "
                             f"must be 'rwalk' or 'hml_code', got {importance!r}")
        if distance not in ("l2", "abs"):
            raise ValueError(f"ParameterImportance: field 'distance' "
                             f"must be 'l2' or 'abs', got {distance!r}")
        self.include, self.exclude = list(include), list(exclude)
        self.alpha, self.importance, self.distance = alpha, importance, distance
        self.lam, self.eps = lam, eps
        self.fisher: Dict[str, Tensor] = {}
        self.omega: Dict[str, Tensor] = {}
        self.fisher_star: Dict[str, Tensor] = {}
        self.omega_star: Dict[str, Tensor] = {}
        self.theta_star: Dict[str, Tensor] = {}
        self._grad: Dict[str, Tensor] = {}
        self._before: Dict[str, Tensor] = {}
        self._imp = self._sqrt_imp = None  # F* + Ω* and its square root, made when needed

    def parameters(self, model: torch.nn.Module) -> Dict[str, torch.nn.Parameter]:
        """The covered ``name → parameter`` of ``model`` (trainable ones only)."""
        out = {}
        for n, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if any(re.search(r, n) for r in self.include) and \
                    not any(re.search(r, n) for r in self.exclude):
                out[n] = p
        return out

    @torch.no_grad()
    def after_backward(self, model: torch.nn.Module) -> None:
        for n, p in self.parameters(model).items():
            g = p.grad.detach().float() if p.grad is not None else torch.zeros_like(
                p, dtype=torch.float32)
            g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
            ft = torch.nan_to_num(g.pow(2).clamp(_FMIN, _FMAX), nan=0.0)
            prev = self.fisher.get(n)
            self.fisher[n] = ft if prev is None else \
                self.alpha * ft + (1 - self.alpha) * prev.to(ft.device)
            self._grad[n] = g
            self._before[n] = p.detach().float().clone()

    @torch.no_grad()
    def after_step(self, model: torch.nn.Module) -> None:
        for n, p in self.parameters(model).items():
            if n not in self._before:
                continue
            d = p.detach().float() - self._before[n]
            g, f = self._grad[n], self.fisher[n]
            if self.importance == "rwalk":
                w = (-g * d).clamp_min(0) / (f * d.pow(2) + self.eps)
            else:
                w = 2 * (g * d).clamp_min(1e-15) / (f * d.pow(2)).clamp_min(1e-20)
            w = torch.nan_to_num(w, nan=0.0)
            prev = self.omega.get(n)
            self.omega[n] = w if prev is None else prev.to(w.device) + w
        self._grad.clear()
        self._before.clear()

    @torch.no_grad()
    def end_stage(self, model: torch.nn.Module) -> None:
        """Normalise F and Ω into F*, Ω*, snapshot θ*; restart F and Ω."""
        params = self.parameters(model)
        fs, os_, ts = {}, {}, {}
        zero = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
        fisher = {n: self.fisher.get(n, zero[n]).to(p.device) for n, p in params.items()}
        omega = {n: self.omega.get(n, zero[n]).to(p.device) for n, p in params.items()}
        f_mean = o_mean = None
        if self.normalise == "global" and params:
            f_mean, o_mean = _log_mean(fisher.values()), _log_mean(omega.values())
        for n, p in params.items():
            fs[n] = _normalise(fisher[n], f_mean)
            o = _normalise(omega[n], o_mean)
            if n in self.omega_star:
                o = 0.5 * (o + self.omega_star[n].to(p.device))
            os_[n] = o
            ts[n] = p.detach().float().clone()
        self.fisher_star, self.omega_star, self.theta_star = fs, os_, ts
        self._imp = None
        self.fisher, self.omega = {}, {}

    def _place(self, device: torch.device) -> None:
        """Move the stored tensors (e.g. loaded on the CPU) to ``device`` once."""
        for k in ("fisher", "omega", "fisher_star", "omega_star", "theta_star"):
            d = getattr(self, k)
            for n, t in d.items():
                if t.device != device:
                    d[n] = t.to(device)

    def _prepare(self, model: torch.nn.Module):
        """Covered ``(params, θ*, F* + Ω*, names)`` lists; stored tensors moved to the
        model's device."""
        first = next(iter(self.theta_star.values()))
        dev = next(model.parameters()).device
        if first.device != dev:
            self._place(dev)
            self._imp = None
        if getattr(self, "_imp", None) is None:
            self._imp = {n: self.fisher_star[n] + self.omega_star[n] for n in self.theta_star}
            self._sqrt_imp = None
        named = [(n, p) for n, p in self.parameters(model).items() if n in self.theta_star]
        return ([p for _, p in named], [self.theta_star[n] for n, _ in named],
                [self._imp[n] for n, _ in named], [n for n, _ in named])

    def _sqrt_importance(self, names) -> list:
        """``√(F* + Ω*)`` of the parameters ``names`` (made once per stage)."""
        if self._sqrt_imp is None:
            self._sqrt_imp = {n: w.sqrt() for n, w in self._imp.items()}
        return [self._sqrt_imp[n] for n in names]

    def loss(self, model: torch.nn.Module) -> Optional[Tensor]:
        """The MR loss (a scalar, differentiable), or ``None`` before the first
        :meth:`end_stage`."""
        if not self.theta_star:
            return None
        params, star, imp, names = self._prepare(model)
        if not params:
            return None
        total = None
        for p, t, w in zip(params, star, imp):
            diff = t - p.float()
            dist = diff.pow(2) if self.distance == "l2" else diff.abs()
            term = (w * dist).sum()
            total = term if total is None else total + term
        return self.lam * total / sum(p.numel() for p in params)

    @torch.no_grad()
    def loss_and_grad(self, model: torch.nn.Module):
        """The MR loss value (detached) and its gradients w.r.t. the covered parameters, as
        ``(value, params, grads, grad_scale)`` with ``∂loss/∂p = grad_scale · grads``
        (``None`` before the first :meth:`end_stage`), computed in a few fused passes
        instead of autograd (the fast path: see :meth:`add_grad`). For ``"l2"``,
        ``u = √w ⊙ (θ − θ*)`` gives the value ``Σ‖u‖²`` (one ``_foreach_norm``) and, scaled
        by ``√w`` again in place, the gradient's direction ``w ⊙ (θ − θ*)``: five passes
        over the covered values where the plain form takes eight."""
        if not self.theta_star:
            return None
        params, star, imp, names = self._prepare(model)
        if not params:
            return None
        scale = self.lam / sum(p.numel() for p in params)
        diff = torch._foreach_sub([p.detach().float() for p in params], star)  # θ − θ*
        if self.distance == "l2":
            sqrt_w = self._sqrt_importance(names)
            torch._foreach_mul_(diff, sqrt_w)  # u = √w (θ − θ*)
            value = torch.stack(torch._foreach_norm(diff)).double().pow(2).sum().float()
            torch._foreach_mul_(diff, sqrt_w)  # w (θ − θ*)
            return value * scale, params, diff, 2 * scale
        g = torch._foreach_mul([d.sign() for d in diff], imp)  # w·sign(θ − θ*)
        # Σ w |θ − θ*| = Σ (w·sign(θ − θ*))·(θ − θ*)
        value = sum(torch.dot(a.view(-1), b.view(-1)) for a, b in zip(g, diff)) * scale
        return value, params, g, scale

    @staticmethod
    @torch.no_grad()
    def add_grad(params, grads, alpha: float = 1.0) -> None:
        """``p.grad += alpha · g`` (creating ``p.grad`` where missing)."""
        for p, g in zip(params, grads):
            g = g.to(p.dtype)
            if p.grad is None:
                p.grad = g * alpha
            else:
                p.grad.add_(g, alpha=alpha)

    def state_dict(self) -> Dict[str, Any]:
        return {k: {n: t.detach().cpu().clone() for n, t in getattr(self, k).items()}
                for k in ("fisher", "omega", "fisher_star", "omega_star", "theta_star")}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self._imp = None
        for k in ("fisher", "omega", "fisher_star", "omega_star", "theta_star"):
            setattr(self, k, {n: t.clone() for n, t in state.get(k, {}).items()})

    def __repr__(self) -> str:
        return (f"ParameterImportance(importance={self.importance!r}, "
                f"distance={self.distance!r}, lam={self.lam})")
