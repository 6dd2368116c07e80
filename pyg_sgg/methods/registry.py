"""``METHOD_REGISTRY``: every training method by name, known without importing it."""
from ..registry import Registry

__all__ = ["METHOD_REGISTRY"]

METHOD_REGISTRY = Registry("training method")
METHOD_REGISTRY.register_lazy("ce", "pyg_sgg.methods.ce")
METHOD_REGISTRY.register_lazy("ebm", "pyg_sgg.methods.ebm")
METHOD_REGISTRY.register_lazy("hml", "pyg_sgg.methods.hml")
METHOD_REGISTRY.register_lazy("gcl", "pyg_sgg.methods.gcl")
METHOD_REGISTRY.register_lazy("baikal", "pyg_sgg.methods.baikal")
METHOD_REGISTRY.register_lazy("disc", "pyg_sgg.methods.discriminative")
METHOD_REGISTRY.register_lazy("cmat", "pyg_sgg.methods.cmat")
