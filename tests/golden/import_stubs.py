"""Stand-ins for the imports of the authors' files that the golden scripts load
(maskrcnn_benchmark's registries and helpers, the GloVe download's packages), a registry that
only records names, and the scripts' shared command line."""
import argparse
import sys
import types
from pathlib import Path

import torch


def stub_module(name, **attrs):
    """A module ``name`` with ``attrs``, registered in ``sys.modules``."""
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


class Registry(dict):
    """maskrcnn_benchmark's ``Registry``: ``@REG.register(name)`` stores the object."""

    def register(self, name):
        def deco(obj):
            self[name] = obj
            return obj
        return deco


def stub_maskrcnn_benchmark(**registry_attrs):
    """maskrcnn_benchmark's packages down to ``modeling.roi_heads``, its ``modeling.registry``
    with ``registry_attrs`` and ``modeling.utils.cat``."""
    stub_module("maskrcnn_benchmark")
    stub_module("maskrcnn_benchmark.modeling", __path__=[])
    stub_module("maskrcnn_benchmark.modeling.registry", **registry_attrs)
    stub_module("maskrcnn_benchmark.modeling.utils",
                cat=lambda ts, dim=0: ts[0] if len(ts) == 1 else torch.cat(ts, dim))
    stub_module("maskrcnn_benchmark.modeling.roi_heads", __path__=[])


def stub_glove_download():
    """``six`` and ``tqdm``, imported by SGB's utilities for the GloVe download (not called)."""
    stub_module("six")
    stub_module("six.moves", __path__=[])
    stub_module("six.moves.urllib", __path__=[])
    stub_module("six.moves.urllib.request", urlretrieve=None)
    stub_module("tqdm", tqdm=None)


def sgb_golden_args(doc: str, out_dir: Path) -> argparse.Namespace:
    """The SGB golden scripts' command line: SGB's ``relation_head`` folder, ``--out-dir``."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("relation_head", type=Path, help="SGB's relation_head folder")
    p.add_argument("--out-dir", type=Path, default=out_dir)
    return p.parse_args()
