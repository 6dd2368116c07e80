"""Scene graphs as PyG ``Data``, VG150 / COCO readers and writers, SynthVG + SynthCOCO, SGB
statistics, batching; each name is imported when first used."""
from ..lazy_exports import lazy_exports

_EXPORTS = {
    "SceneGraph": ".scene_graph", "add_candidate_pairs": ".scene_graph",
    "all_pairs": ".scene_graph", "pair_labels": ".scene_graph",
    "DatasetFormatError": ".vg", "VGDataset": ".vg", "COCOMaskDataset": ".coco",
    "collate_scene_graphs": ".loader",
    "ensure_dataset": ".synthvg", "get_statistics": ".statistics",
    "zero_shot_triplets": ".statistics", "few_shot_bins": ".statistics",
    "class_name_embeddings": ".word_embeddings",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
