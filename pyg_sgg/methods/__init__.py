"""Training frameworks, registered by name in ``METHOD_REGISTRY`` (``ce``, ``ebm``, ``hml``)."""
from .ebm import EBM, add_ebm_config  # noqa: F401  (registers "ebm" in METHOD_REGISTRY)
from .base import METHOD_REGISTRY, Method, Stage  # noqa: F401,E402
from . import ce  # noqa: F401,E402  (registers "ce")
from .compose import ComposedMethod, build_method  # noqa: F401,E402
import importlib as _importlib  # noqa: E402

for _name in ("hml",):  # optional methods: registered when their module is present
    try:
        _importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _e:
        if _e.name != f"{__name__}.{_name}":
            raise
