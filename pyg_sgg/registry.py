"""Name → object registries, so YAML configs pick components by string."""
from typing import Callable, Dict, Optional


class Registry:
    """A named table of classes or functions.

    Example::

        CONTEXT_REGISTRY = Registry("context encoder")

        @CONTEXT_REGISTRY.register("motifs")
        class MotifsContext(torch.nn.Module): ...

        CONTEXT_REGISTRY.get("motifs")
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._table: Dict[str, object] = {}

    def register(self, name: Optional[str] = None) -> Callable:
        def deco(obj):
            key = (name or obj.__name__).lower()
            if key in self._table:
                raise KeyError(f"{self.kind} {key!r} is already registered")
            self._table[key] = obj
            return obj
        return deco

    def get(self, name: str):
        key = name.lower()
        if key not in self._table:
            raise KeyError(f"unknown {self.kind} {name!r}; choose one of {sorted(self._table)}")
        return self._table[key]

    def names(self):
        return sorted(self._table)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._table

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
