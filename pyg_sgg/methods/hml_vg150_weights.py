"""HML's published relation class weights on Visual Genome (VG150), the numbers the authors
hard-coded in their ``roi_heads/relation_head/loss.py`` (``criterion_loss0`` / ``criterion_loss1``
of the two-stage configuration), by predicate name in SGB's (Tang's) predicate order.

Stage 0 covers the background and the ten most frequent predicates; every other class has
weight 0 there. Stage 1 covers all 51 classes. Their comments call them effective-number
weights; at VG150's counts they come close to ``0.25 / frequency`` (see
:func:`~pyg_sgg.methods.class_weights.stage_class_weights`).
"""
from typing import Dict, List, Tuple

__all__ = ["HML_VG150_WEIGHTS", "hml_vg150_weights"]

# (predicate, stage-0 weight, stage-1 weight)
HML_VG150_WEIGHTS: List[Tuple[str, float, float]] = [
    ('__background__', 0.4669035425992956, 0.2486224691804972),
    ('above', 23.04961797159628, 12.012798778863639),
    ('across', 0, 380.3508769548616),
    ('against', 0, 446.55122797252244),
    ('along', 0, 202.96272683481956),
    ('and', 0, 147.39845311230934),
    ('at', 0, 47.5390803607065),
    ('attached to', 0, 63.1749001458362),
    ('behind', 16.526480564945707, 7.788443013021899),
    ('belonging to', 0, 153.49727235437567),
    ('between', 0, 195.81769619815674),
    ('carrying', 0, 58.77423558449167),
    ('covered in', 0, 206.30853272622377),
    ('covering', 0, 195.43548047695387),
    ('eating', 0, 142.5731976631588),
    ('flying in', 0, 20000.098556451987),
    ('for', 0, 89.7288760261907),
    ('from', 0, 505.1730880596869),
    ('growing on', 0, 581.5178364778455),
    ('hanging from', 0, 124.03882065712794),
    ('has', 2.5379842112009423, 1.5758111546610114),
    ('holding', 14.28162893796638, 8.833049427334313),
    ('in', 7.073231993848659, 4.211064722228781),
    ('in front of', 0, 26.383859687821676),
    ('laying on', 0, 128.49278120456725),
    ('looking at', 0, 97.58901396228484),
    ('lying on', 0, 271.1255900229084),
    ('made of', 0, 781.372239203109),
    ('mounted on', 0, 377.4812342751968),
    ('near', 8.65451558251361, 4.941427138837599),
    ('of', 4.807590486310799, 3.176420652662165),
    ('on', 1.6627411739115234, 0.9763492484730911),
    ('on back of', 0, 291.66804287748806),
    ('over', 0, 78.43169895218664),
    ('painted on', 0, 653.7171689749584),
    ('parked on', 0, 156.12927567615074),
    ('part of', 0, 230.00799146103026),
    ('playing', 0, 746.390939318499),
    ('riding', 0, 22.311103875790128),
    ('says', 0, 2040.9370100110002),
    ('sitting on', 0, 18.79757941598667),
    ('standing on', 0, 40.187374670667765),
    ('to', 0, 305.93323254313265),
    ('under', 0, 21.256121988867843),
    ('using', 0, 172.53680523065555),
    ('walking in', 0, 346.1435447756276),
    ('walking on', 0, 75.76613408645598),
    ('watching', 0, 110.37668849009923),
    ('wearing', 4.0094246467283225, 2.184025373242792),
    ('wears', 0, 20.37043367720789),
    ('with', 13.575230608673827, 8.310458806535278),
]


def hml_vg150_weights() -> Dict[str, Tuple[float, float]]:
    """``predicate name -> (stage-0 weight, stage-1 weight)``, background as
    ``"__background__"``."""
    return {name: (a, b) for name, a, b in HML_VG150_WEIGHTS}
