"""Detectron2-style configs: fvcore's :class:`CfgNode` with strict, one-line errors.

``_BASE_`` chains come from fvcore. On top of that every merge (YAML file, another node,
``KEY VALUE`` list) is checked against the defaults first, so a bad config fails in one line
that names the key:

* an unknown key raises ``KeyError("unknown config key 'SOLVER.BASE_LRR' ...")``;
* a value of the wrong type raises ``ValueError("config key SOLVER.MAX_ITER expects int ...")``.

An ``int`` is accepted where the default is a ``float`` (``SOLVER.BASE_LR 1``), and lists and
tuples are interchangeable, as in yacs.
"""
import os
from ast import literal_eval
from typing import Any, List

import yaml
from fvcore.common.config import CfgNode as _FvCfgNode

__all__ = ["CfgNode", "ConfigError", "check_yaml_chain"]


class ConfigError(ValueError):
    """A config value that cannot be used (wrong type, bad choice, missing path)."""


def _type_name(v: Any) -> str:
    return type(v).__name__


def _coerce(value: Any, default: Any, full_key: str) -> Any:
    """``value`` converted to the type of ``default``, or a :class:`ConfigError`."""
    if default is None or value is None:
        return value
    if isinstance(default, bool):  # bool before int: bool is an int subclass
        if isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, (list, tuple)):
        if isinstance(value, (list, tuple)):
            return type(default)(value)
    elif isinstance(default, dict):
        if isinstance(value, dict):
            return value
    elif type(value) is type(default):
        return value
    raise ConfigError(f"config key {full_key} expects {_type_name(default)}, got "
                      f"{_type_name(value)} {value!r}")


def check_yaml_chain(path: str, _stack: tuple = ()) -> None:
    """Raise :class:`ConfigError` in one line for a YAML syntax error or a ``_BASE_`` cycle
    anywhere in the chain of ``path`` (fvcore would raise a long traceback or recurse)."""
    path = os.path.abspath(path)
    if path in _stack:
        chain = " -> ".join(os.path.basename(p) for p in (*_stack, path))
        raise ConfigError(f"config file {_stack[0]}: _BASE_ cycle {chain}")
    if not os.path.isfile(path):
        where = f" (the _BASE_ of {_stack[-1]})" if _stack else ""
        raise ConfigError(f"config file {path}{where} not found")
    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"config file {path}: YAML syntax error{at}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected KEY: VALUE mappings, got "
                          f"{type(data).__name__}")
    bases = data.get("_BASE_") or []
    for base in [bases] if isinstance(bases, str) else bases:
        if not base.startswith(("/", "~")) and "://" not in base:
            base = os.path.join(os.path.dirname(path), base)
        check_yaml_chain(os.path.expanduser(base), (*_stack, path))


class CfgNode(_FvCfgNode):
    """fvcore ``CfgNode`` whose merges validate keys and types against the defaults."""

    def merge_from_file(self, cfg_filename: str, allow_unsafe: bool = False) -> None:
        check_yaml_chain(cfg_filename)
        super().merge_from_file(cfg_filename, allow_unsafe)

    def _validate(self, other: dict, prefix: str = "") -> dict:
        """Return ``other`` with values coerced to the defaults' types; raise on bad keys."""
        out = {}
        for k, v in other.items():
            full_key = prefix + k
            if k not in self:
                if self.is_new_allowed():
                    out[k] = v
                    continue
                while isinstance(v, dict) and len(v) > 0:  # name the leaf key given
                    k2, v = next(iter(v.items()))
                    full_key += "." + k2
                raise KeyError(f"unknown config key {full_key!r} (not in the defaults of "
                               f"pyg_sgg.config.get_cfg())")
            default = self[k]
            if isinstance(default, _FvCfgNode):
                if not isinstance(v, dict):
                    raise ConfigError(f"config key {full_key} is a group of keys, got "
                                      f"{_type_name(v)} {v!r}")
                out[k] = type(self)(default._validate(v, full_key + "."))
                continue
            if isinstance(v, str) and not isinstance(default, str):
                try:  # YAML gives "(600,)" / "1e-4" as strings, as yacs decodes them
                    v = literal_eval(v)
                except (ValueError, SyntaxError):
                    pass
            if isinstance(v, dict) and not isinstance(default, dict):
                raise ConfigError(f"config key {full_key} expects {_type_name(default)}, "
                                  f"got a group of keys")
            out[k] = _coerce(v, default, full_key)
        return out

    def merge_from_other_cfg(self, cfg_other):
        if "_BASE_" in cfg_other:
            raise KeyError("'_BASE_' can only be used in config files")
        self._assign(self._validate(cfg_other))

    def _assign(self, checked: dict) -> None:
        for k, v in checked.items():
            if k in self and isinstance(self[k], _FvCfgNode) and isinstance(v, dict):
                self[k]._assign(v)
            else:
                if self.is_frozen():
                    raise AttributeError(f"config is frozen; cannot set {k}")
                self[k] = type(self)(v) if isinstance(v, dict) and not isinstance(
                    v, _FvCfgNode) else v

    def merge_from_list(self, cfg_list: List[str]):
        """Merge ``["SOLVER.BASE_LR", "0.1", ...]``; a value is parsed as a Python literal
        unless the key's default is a string (``OUTPUT_DIR 123`` stays ``"123"``)."""
        if len(cfg_list) % 2 != 0:
            raise ConfigError(f"config overrides must be KEY VALUE pairs, got {cfg_list!r}")
        tree: dict = {}
        for key, raw in zip(cfg_list[0::2], cfg_list[1::2]):
            if key == "_BASE_":
                raise KeyError("'_BASE_' can only be used in config files")
            value = raw  # strings are decoded against the default's type in _validate
            node, parts = tree, key.split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
                if not isinstance(node, dict):
                    raise KeyError(f"unknown config key {key!r}")
            node[parts[-1]] = value
        return self.merge_from_other_cfg(type(self)(tree))
