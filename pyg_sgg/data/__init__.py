"""Datasets (VG150, COCO masks, SynthVG/SynthCOCO) and the SceneGraph data model."""
from .scene_graph import SceneGraph, add_candidate_pairs, all_pairs, pair_labels

__all__ = ["SceneGraph", "add_candidate_pairs", "all_pairs", "pair_labels"]
