"""``CONTEXT_REGISTRY``: every context encoder by name, known without importing it."""
from ...registry import Registry

__all__ = ["CONTEXT_REGISTRY"]

CONTEXT_REGISTRY = Registry("context encoder")
for _name in ("imp", "motifs", "transformer", "vctree"):
    CONTEXT_REGISTRY.register_lazy(_name, f"pyg_sgg.nn.context.{_name}")
