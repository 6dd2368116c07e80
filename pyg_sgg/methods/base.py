"""The interface every training framework (``ce``, ``ebm``, ``hml``, ...) implements.

The trainer (``pyg_sgg/engine``) drives one loop for all methods::

    method.setup(model, trainer)                 # once: extra modules/optimisers
    for stage in method.stages():                # HML: several; others: one
        method.on_stage_start(stage, model, trainer)
        for it in range(stage.max_iter):
            out = model(batch)                               # SGGOutput
            losses = method.loss(model, batch, out)          # dict[str, Tensor]
            sum(losses.values()).backward()
            method.after_backward(model)
            <all optimisers step>;  method.after_step(model)
        method.on_stage_end(stage, model, trainer)

``batch`` is a :class:`~torch_geometric.data.Batch` of scene graphs whose ``edge_index``
holds the candidate pairs to score (already sampled for training) and ``edge_label`` their
targets; ``out.rel_logits[e]`` scores ``batch.edge_index[:, e]``.
"""
from dataclasses import dataclass
from typing import Any, Dict, List

import torch
from torch import Tensor

from .registry import METHOD_REGISTRY

__all__ = ["METHOD_REGISTRY", "Method", "Stage"]


@dataclass
class Stage:
    """One training stage: a name and its length in iterations."""
    name: str
    max_iter: int


class Method:
    """Base class: plain task loss hooks that do nothing.

    Subclasses override :meth:`loss` and any hook they need. Extra trainable modules go in
    :meth:`modules` (checkpointed by the trainer); extra optimisers are registered with
    ``trainer.add_optimizer(name, optimizer, params)`` in :meth:`setup`. Under DDP the
    trainer averages the gradients of those parameters over processes before
    :meth:`after_backward`; a method never all-reduces gradients itself.
    """

    name = "base"
    #: True for a method whose contribution is extra terms on top of the task loss (``gcl``,
    #: ``disc``): composed with another method, the other's task loss keys win.
    auxiliary = False

    def setup(self, model: torch.nn.Module, trainer: Any) -> None:
        pass

    def stages(self, max_iter: int) -> List[Stage]:
        return [Stage("main", max_iter)]

    def on_stage_start(self, stage: Stage, model: torch.nn.Module, trainer: Any) -> None:
        pass

    def on_stage_end(self, stage: Stage, model: torch.nn.Module, trainer: Any) -> None:
        pass

    def loss(self, model: torch.nn.Module, batch, outputs) -> Dict[str, Tensor]:
        raise NotImplementedError

    def after_backward(self, model: torch.nn.Module) -> None:
        pass

    def after_step(self, model: torch.nn.Module) -> None:
        pass

    def modules(self) -> Dict[str, torch.nn.Module]:
        return {}

    def state_dict(self) -> Dict[str, Any]:
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        pass
