"""Context encoders (Motifs, VCTree, IMP, Transformer), registered in ``CONTEXT_REGISTRY``;
each is imported when first used."""
from ...lazy_exports import lazy_exports
from .registry import CONTEXT_REGISTRY

_EXPORTS = {"ContextOutput": ".base", "IMPContext": ".imp", "TransformerContext": ".transformer",
            "MotifsContext": ".motifs", "VCTreeContext": ".vctree", "BiTreeLSTM": ".tree_lstm",
            "binary_tree": ".spanning_tree", "maximum_spanning_tree": ".spanning_tree"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = ["CONTEXT_REGISTRY", *_EXPORTS]
