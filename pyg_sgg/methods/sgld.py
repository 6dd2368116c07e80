"""Stochastic gradient Langevin dynamics over scene-graph states, as EBM's ``SGLD`` sampler.

Each of ``num_steps`` steps, for every moving state ``x`` (edge states; node states too in
SGCls / SGDet)::

    x = x + N(0, noise_std)                     # noise first (authors: x.data += ...)
    g = d/dx  sum_b E_b(x)                       # autograd.grad, g itself not differentiated
    x = min_max(x - step_size * clamp(g, -grad_clip, grad_clip))

Noise and step are added as constants (invisible to autograd, like the authors' ``.data``
updates) while every ``min_max`` is recorded, so the sample is a differentiable function of
the initial states, i.e. of the base model's logits (METHODS.md §1.5).
"""
from typing import Callable, Optional, Tuple

import torch
from torch import Tensor


def min_max_normalize(x: Tensor, eps: float = 1e-6) -> Tensor:
    """Per row ``(x - min) / max(x - min)``, to ``[0, 1]``; differentiable.

    ``eps`` bounds the divisor from below, so a constant row gives zeros; ``eps=0`` is the
    authors' ``normalize_states`` (a constant row gives NaN).
    """
    x = x - x.min(dim=-1, keepdim=True).values
    return x / x.max(dim=-1, keepdim=True).values.clamp_min(eps)


class SGLD:
    """The SGLD sampler of the energy-based SGG paper (defaults: the authors' README run).

    Args:
        step_size (float): Step size ("LR"). (default: ``1.0``)
        num_steps (int): Number of steps ("ITERS"). (default: ``20``)
        noise_std (float): Standard deviation of the noise added before each gradient (the
            authors' "VAR", which they use as a std). (default: ``0.001``)
        grad_clip (float): Each gradient entry is clamped to ``[-grad_clip, grad_clip]``.
            (default: ``0.01``)
        norm_eps (float): Divisor floor of the min-max re-normalisation; ``0`` = authors.
            (default: ``1e-6``)
    """

    def __init__(self, step_size: float = 1.0, num_steps: int = 20, noise_std: float = 0.001,
                 grad_clip: float = 0.01, norm_eps: float = 1e-6):
        self.step_size = step_size
        self.num_steps = num_steps
        self.noise_std = noise_std
        self.grad_clip = grad_clip
        self.norm_eps = norm_eps

    def sample(self, energy_fn: Callable[[Tensor, Optional[Tensor]], Tensor],
               edge_states: Tensor, node_states: Optional[Tensor] = None,
               ) -> Tuple[Tensor, Optional[Tensor]]:
        """Run the chain.

        Args:
            energy_fn: ``energy_fn(edge_states [E, P+1], node_states [N, C+1] or None) ->
                [B]`` energies; with ``node_states=None`` it uses its own fixed nodes.
            edge_states (Tensor): ``[E, P+1]`` start; may carry a graph to the base model.
            node_states (Tensor, optional): ``[N, C+1]`` start; moved too when given.

        Returns:
            ``(edge_states, node_states)`` after ``num_steps`` steps (``node_states`` is
            ``None`` when not given).
        """
        states = [edge_states] if node_states is None else [edge_states, node_states]
        for _ in range(self.num_steps):
            noisy = []
            for s in states:
                s = s + self.noise_std * torch.randn_like(s)
                noisy.append(s if s.requires_grad else s.detach().requires_grad_())
            with torch.enable_grad():
                energy = energy_fn(noisy[0], noisy[1] if len(noisy) > 1 else None)
                grads = torch.autograd.grad(energy.sum(), noisy, retain_graph=False,
                                            allow_unused=True)
            states = []
            for s, g in zip(noisy, grads):
                if g is None:
                    g = torch.zeros_like(s)
                step = self.step_size * g.clamp(-self.grad_clip, self.grad_clip)
                states.append(min_max_normalize(s - step.detach(), self.norm_eps))
        return states[0], (states[1] if len(states) > 1 else None)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(step_size={self.step_size}, '
                f'num_steps={self.num_steps}, noise_std={self.noise_std}, '
                f'grad_clip={self.grad_clip})')
