"""Build a method by name, combining several with ``+`` (e.g. ``"hml+ebm"``)."""
from typing import Any, Dict, List, Optional

import torch
from torch import Tensor

from .base import METHOD_REGISTRY, Method, Stage

__all__ = ["ComposedMethod", "build_method"]


class ComposedMethod(Method):
    """Several methods trained together.

    * losses: the union of every method's loss dict; when two methods return the same key
      (e.g. both their own version of the task loss ``loss_rel``), the first one's is kept,
      so ``"hml+ebm"`` uses HML's re-weighted task loss plus EBM's energy loss; auxiliary
      methods (``Method.auxiliary``: ``gcl``, ``disc``) come after the others here, so
      ``"gcl+hml"`` is HML's task loss plus the contrastive terms;
    * hooks: every method's, in order;
    * stages: those of the first method that defines several (else one ``"main"``); a
      stage's training data: each method's ``stage_dataset`` in turn (HML's per-stage
      images);
    * modules / state: every method's, under ``"<method name>."`` prefixes.
    """

    def __init__(self, methods: List[Method]):
        if not methods:
            raise ValueError("ComposedMethod needs at least one method")
        self.methods = list(methods)
        self.name = "+".join(m.name for m in self.methods)

    def setup(self, model, trainer) -> None:
        for m in self.methods:
            m.setup(model, trainer)

    def stages(self, max_iter: int) -> List[Stage]:
        for m in self.methods:
            stages = m.stages(max_iter)
            if len(stages) > 1:
                return stages
        return self.methods[0].stages(max_iter)

    def on_stage_start(self, stage, model, trainer) -> None:
        for m in self.methods:
            m.on_stage_start(stage, model, trainer)

    def on_stage_end(self, stage, model, trainer) -> None:
        for m in self.methods:
            m.on_stage_end(stage, model, trainer)

    def stage_dataset(self, stage, dataset):
        for m in self.methods:
            if hasattr(m, "stage_dataset"):
                dataset = m.stage_dataset(stage, dataset)
        return dataset

    def loss(self, model, batch, outputs) -> Dict[str, Tensor]:
        out: Dict[str, Tensor] = {}
        for m in sorted(self.methods, key=lambda m: m.auxiliary):  # stable
            for k, v in m.loss(model, batch, outputs).items():
                out.setdefault(k, v)
        return out

    def after_backward(self, model) -> None:
        for m in self.methods:
            m.after_backward(model)

    def after_step(self, model) -> None:
        for m in self.methods:
            m.after_step(model)

    def modules(self) -> Dict[str, torch.nn.Module]:
        return {f"{m.name}.{k}": v for m in self.methods for k, v in m.modules().items()}

    def state_dict(self):
        return {m.name: m.state_dict() for m in self.methods}

    def load_state_dict(self, state) -> None:
        for m in self.methods:
            m.load_state_dict(state.get(m.name, {}))

    def __repr__(self) -> str:
        return f"ComposedMethod({self.name!r})"


def build_method(name: str, cfg, statistics: Optional[Dict[str, Any]] = None) -> Method:
    """``METHOD_REGISTRY.get(n).from_config(cfg, statistics)`` for each ``n`` of
    ``"a+b+..."``.

    Args:
        name (str): method names joined by ``+`` (``"hml+ebm"``).
        cfg (CfgNode): the config (the methods read their own nodes).
        statistics (dict, optional): :func:`pyg_sgg.data.statistics.get_statistics` of the
            training set, for methods that need them (HML's stages).
    """
    names = [n.strip() for n in name.split("+") if n.strip()]
    if not names:
        raise ValueError(f"empty method name {name!r}")
    if len(set(n.lower() for n in names)) != len(names):
        raise ValueError(f"method {name!r} names a method twice")
    methods = [METHOD_REGISTRY.get(n).from_config(cfg, statistics) for n in names]
    return methods[0] if len(methods) == 1 else ComposedMethod(methods)
