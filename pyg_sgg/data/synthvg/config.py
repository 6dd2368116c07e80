"""The knobs of the SynthVG generator (the dataset is a function of them and the seed)."""
from dataclasses import dataclass


@dataclass
class SynthConfig:
    """Knobs of the generator (all have defaults; the dataset is a function of them)."""
    coarse_prob: float = 0.55      # P(annotation reports the coarse parent of a fine predicate)
    spatial_prob: float = 0.5      # P(a near / in front of / behind / above fact is annotated)
    test_fraction: float = 0.3     # VG split flag 2 for this fraction, 0 otherwise
    zero_shot_mass: float = 0.1    # share of group facts whose triplets are held out of train
    coco_fraction: float = 0.2     # SynthCOCO images = coco_fraction * num_images
    coco_val_fraction: float = 0.2  # SynthCOCO images in instances_val.json
    min_visible: float = 0.35      # objects less visible than this are not kept
    jpeg_quality: int = 90
