"""The zero-shot hold-out: triplets kept out of the training images."""
from collections import Counter
from typing import List

import numpy as np

from .config import SynthConfig
from .scene_grammar import sample_scene


def choose_holdout(seed: int, cfg: SynthConfig, pilot: int = 400) -> List[tuple]:
    """Triplets (subject class, fine predicate, object class) kept out of train images.

    A pilot of ``pilot`` scenes (no rendering) estimates how often each group fact occurs;
    mid-frequency triplets are drawn at random until they cover ``cfg.zero_shot_mass`` of the
    facts (none alone above 3 %, so no predicate or class disappears from train).
    """
    counts: Counter = Counter()
    for k in range(pilot):
        sc = sample_scene(np.random.default_rng([seed, 2, k]))
        counts.update((sc["objects"][a]["cls"], p, sc["objects"][b]["cls"])
                      for a, b, p in sc["facts"])
    total = sum(counts.values())
    rng = np.random.default_rng([seed, 3])
    cand = sorted(t for t, c in counts.items() if 3 <= c <= 0.03 * total)
    order = rng.permutation(len(cand))
    cls_total: Counter = Counter()
    for (a, p, b), c in counts.items():
        cls_total[a] += c
        cls_total[b] += c
    cls_left = Counter(cls_total)
    chosen, mass = [], 0.0
    for k in order:
        if mass >= cfg.zero_shot_mass:
            break
        t = cand[k]
        c = counts[t]
        # every predicate keeps another training triplet; every class keeps >= half its facts
        if sum(1 for u in counts if u[1] == t[1] and u not in chosen and u != t) == 0:
            continue
        if any(cls_left[x] - c * (1 + (t[0] == t[2])) < 0.5 * cls_total[x] for x in (t[0], t[2])):
            continue
        chosen.append(t)
        cls_left[t[0]] -= c
        cls_left[t[2]] -= c
        mass += c / total
    return sorted(chosen)
