from .base import CONTEXT_REGISTRY, ContextOutput  # noqa: E402
from .imp import IMPContext  # noqa: E402
from .transformer import TransformerContext  # noqa: E402
from .motifs import MotifsContext  # noqa: E402
from .vctree import VCTreeContext  # noqa: E402
from .tree_lstm import BiTreeLSTM  # noqa: E402
from .spanning_tree import binary_tree, maximum_spanning_tree  # noqa: E402
