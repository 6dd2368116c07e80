"""Package ``__init__`` helper: names resolved from their submodule on first use.

``import pyg_sgg.models.config`` then runs no model code (a config is built and checked in
well under a second), while ``from pyg_sgg.models import SceneGraphModel`` works as usual.
"""
import importlib
from typing import Callable, Dict, Tuple


def lazy_exports(package: str, table: Dict[str, str]) -> Tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package`` exporting ``name`` from ``table[name]``
    (a submodule, relative like ``".scene_graph_model"``).

    A name may not equal a submodule's name (importing that submodule would rebind it).
    """
    clash = sorted(n for n, mod in table.items() if mod.lstrip(".") == n)
    if clash:
        raise ValueError(f"lazy_exports({package!r}): {clash} are also submodule names")
    def __getattr__(name: str):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(table[name], package), name)
        globals_ = importlib.import_module(package).__dict__
        globals_[name] = value  # later look-ups skip this function
        return value

    def __dir__():
        return sorted(set(table) | set(importlib.import_module(package).__dict__))

    return __getattr__, __dir__
