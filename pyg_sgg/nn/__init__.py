"""PyG layers for scene graph generation; each is imported when first used."""
from ..lazy_exports import lazy_exports

_EXPORTS = {
    "EdgeGNN": ".edge_gnn", "ImageGraphGGNN": ".image_graph_ggnn",
    "GatedPooling": ".gated_pooling", "EnergyModel": ".energy_model",
    "FrequencyBias": ".freq_bias", "RelationHead": ".relation_head",
    "SGBRelationHead": ".sgb_relation_head",
    "CausalRelationHead": ".causal_relation_head",
    "pair_geometry": ".relation_head",
    "CONTEXT_REGISTRY": ".context", "ContextOutput": ".context", "IMPContext": ".context",
    "TransformerContext": ".context", "MotifsContext": ".context", "VCTreeContext": ".context",
    "BiTreeLSTM": ".context",
    "RoIPooler": ".roi_pooler", "BoxFeatureExtractor": ".box_feature_extractor",
    "UnionFeatureExtractor": ".union_feature_extractor",
    "pair_rectangles": ".union_feature_extractor", "MaskTransfer": ".mask_transfer",
    "GaussianMaskAttention": ".gaussian_mask_attention",
    "MaskGroundedBoxExtractor": ".mask_grounded_box_extractor",
    "SegmentationGrounding": ".segmentation_grounding",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
