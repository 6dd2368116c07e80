"""PyG layers for scene graph generation."""
__all__ = []
from .edge_gnn import EdgeGNN  # noqa: E402
from .image_graph_ggnn import ImageGraphGGNN  # noqa: E402
from .gated_pooling import GatedPooling  # noqa: E402
from .energy_model import EnergyModel  # noqa: E402
__all__ += ["EdgeGNN", "ImageGraphGGNN", "GatedPooling", "EnergyModel"]
from .freq_bias import FrequencyBias  # noqa: E402
from .relation_head import RelationHead, pair_geometry  # noqa: E402
from .word_embeddings import class_name_embeddings  # noqa: E402
from .context import CONTEXT_REGISTRY, ContextOutput, IMPContext, TransformerContext  # noqa: E402
__all__ += ["FrequencyBias", "RelationHead", "pair_geometry", "class_name_embeddings",
            "CONTEXT_REGISTRY", "ContextOutput", "IMPContext", "TransformerContext"]
from .context import MotifsContext  # noqa: E402
__all__ += ["MotifsContext"]
from .context import VCTreeContext, BiTreeLSTM  # noqa: E402
__all__ += ["VCTreeContext", "BiTreeLSTM"]
