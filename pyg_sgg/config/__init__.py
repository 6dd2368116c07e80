"""Detectron2-style configs (fvcore CfgNode): defaults, ``_BASE_`` chains, overrides."""
from .config import CfgNode, ConfigError
from .defaults import get_cfg

__all__ = ["CfgNode", "ConfigError", "get_cfg"]
