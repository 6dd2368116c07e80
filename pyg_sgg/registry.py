"""Name → object registries, so YAML configs pick components by string."""
import importlib
from typing import Callable, Dict, Optional


class Registry:
    """A named table of classes or functions.

    Example::

        CONTEXT_REGISTRY = Registry("context encoder")

        @CONTEXT_REGISTRY.register("motifs")
        class MotifsContext(torch.nn.Module): ...

        CONTEXT_REGISTRY.get("motifs")

    An entry can also be declared before its module is imported
    (``register_lazy("motifs", "pyg_sgg.nn.context.motifs")``): :meth:`names` and ``in``
    know it at once (a config is checked without importing any model code), and
    :meth:`get` imports the module, whose ``register`` decorator then fills the entry.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._table: Dict[str, object] = {}
        self._lazy: Dict[str, str] = {}  # name -> module that registers it

    def register(self, name: Optional[str] = None) -> Callable:
        def deco(obj):
            key = (name or obj.__name__).lower()
            if key in self._table:
                raise KeyError(f"{self.kind} {key!r} is already registered")
            self._table[key] = obj
            self._lazy.pop(key, None)
            return obj
        return deco

    def register_lazy(self, name: str, module: str) -> None:
        """Declare ``name``, registered when ``module`` is imported (by :meth:`get`)."""
        key = name.lower()
        if key in self._table or key in self._lazy:
            raise KeyError(f"{self.kind} {key!r} is already registered")
        self._lazy[key] = module

    def get(self, name: str):
        key = name.lower()
        if key in self._lazy:
            module = self._lazy[key]
            importlib.import_module(module)
            if key not in self._table:
                raise KeyError(f"{self.kind} {name!r}: importing {module} did not register it")
        if key not in self._table:
            raise KeyError(f"unknown {self.kind} {name!r}; choose one of {self.names()}")
        return self._table[key]

    def names(self):
        return sorted(set(self._table) | set(self._lazy))

    def __contains__(self, name: str) -> bool:
        key = name.lower()
        return key in self._table or key in self._lazy

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
