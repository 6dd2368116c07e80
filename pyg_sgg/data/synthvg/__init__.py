"""SynthVG + SynthCOCO: the embedded default dataset, generated deterministically from a seed
and written in the real VG150 (h5 + dicts json + image_data json + images) and COCO
(instances json with RLE masks) formats.

Every relation is a fact of the generated scene: a person drawn in a sitting pose on a bench
is ``sitting on`` it, a cup drawn on a table top is ``on`` it, the nearer of two overlapping
objects is ``in front of`` the other. The annotation then reports the coarse parent of a fine
predicate (``on`` for ``sitting on``) with probability ``coarse_prob`` (reporting bias).
Some (subject, predicate, object) triplets never occur in train images (zero-shot).

The parts: :mod:`.vocabulary` (VG150 / COCO names), :mod:`.scene_grammar` (what is placed
where), :mod:`.geometry` (where each part is drawn), :mod:`.rendering` (PIL),
:mod:`.annotation` (spatial facts, boxes from masks), :mod:`.holdout` (zero-shot triplets),
:mod:`.report`, :mod:`.generate` (the writers' driver and the cached default folder) and
:mod:`.cli`::

    python -m pyg_sgg.data.synthvg --out DIR --num-images 4000 --seed 0
"""
from .config import SynthConfig
from .generate import GENERATOR_VERSION, default_root, ensure_dataset, generate
from .holdout import choose_holdout
from .report import build_report, format_report
from .scene_grammar import sample_scene
from .vocabulary import COCO_CLASSES, OBJECT_CLASSES, PREDICATES

__all__ = ["SynthConfig", "GENERATOR_VERSION", "default_root", "ensure_dataset", "generate",
           "choose_holdout", "build_report", "format_report", "sample_scene", "COCO_CLASSES",
           "OBJECT_CLASSES", "PREDICATES"]
