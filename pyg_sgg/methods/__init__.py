"""Training frameworks, registered by name in ``METHOD_REGISTRY`` (``ce``, ``ebm``, ``hml``, ``gcl``, ``baikal``, ``disc``, ``cmat``);
each is imported when first used."""
from ..lazy_exports import lazy_exports
from .registry import METHOD_REGISTRY

_EXPORTS = {"Method": ".base", "Stage": ".base", "ComposedMethod": ".compose",
            "build_method": ".compose", "CrossEntropy": ".ce", "EBM": ".ebm",
            "HML": ".hml", "add_ebm_config": ".ebm_config", "add_hml_config": ".hml_config",
            "GraphicalContrastive": ".gcl", "Baikal": ".baikal", "Discriminative": ".discriminative", "CMAT": ".cmat",
            "add_plugin_loss_config": ".plugin_loss_config"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = ["METHOD_REGISTRY", *_EXPORTS]
