"""Stand-ins for the imports of the authors' files that the golden scripts load
(maskrcnn_benchmark's registries and helpers): a module put in ``sys.modules`` and a
registry that only records names."""
import sys
import types


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
