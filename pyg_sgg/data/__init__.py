"""Datasets (VG150, COCO masks, SynthVG/SynthCOCO) and the SceneGraph data model."""
from .scene_graph import SceneGraph, add_candidate_pairs, all_pairs, pair_labels
from .vg import DatasetFormatError, VGDataset
from .coco import COCOMaskDataset
from .loader import InfiniteMixedLoader, build_loader, collate_scene_graphs, mixed_batches
from .statistics import few_shot_bins, get_statistics, zero_shot_triplets
from .synthetic import ensure_dataset

__all__ = ["SceneGraph", "add_candidate_pairs", "all_pairs", "pair_labels"]
__all__ += ["DatasetFormatError", "VGDataset", "COCOMaskDataset", "InfiniteMixedLoader",
            "build_loader", "collate_scene_graphs", "mixed_batches"]
__all__ += ["ensure_dataset", "get_statistics", "zero_shot_triplets", "few_shot_bins"]
