"""SynthVG + SynthCOCO: the embedded default dataset, generated deterministically from a seed
and written in the real VG150 (h5 + dicts json + image_data json + images) and COCO
(instances json with RLE masks) formats.

Every relation is a fact of the generated scene: a person drawn in a sitting pose on a bench
is ``sitting on`` it, a cup drawn on a table top is ``on`` it, the nearer of two overlapping
objects is ``in front of`` the other. The annotation then reports the coarse parent of a fine
predicate (``on`` for ``sitting on``) with probability ``coarse_prob`` (reporting bias).
Some (subject, predicate, object) triplets never occur in train images (zero-shot).

Usage::

    python -m pyg_sgg.data.synthetic --out DIR --num-images 4000 --seed 0
"""
import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import List, Optional

import numpy as np

from .synthetic_render import (ANIMAL, animal_geom, furniture_geom, person_geom, render,
                               tree_top, vehicle_geom)
from .synthetic_vocabulary import (COARSE_PARENT, COCO_CLASSES, COCO_NAME, OBJECT_CLASSES,
                                   PERSONS, PREDICATES)

__all__ = ["SynthConfig", "sample_scene", "generate", "ensure_dataset", "OBJECT_CLASSES",
           "PREDICATES", "COCO_CLASSES"]

MAX_OBJECTS, MAX_RELATIONS = 15, 10
GENERATOR_VERSION = 1  # bump when the generated data changes: cached folders are regenerated


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


# --------------------------------------------------------------------------- scene sampling
class _Scene:
    def __init__(self, rng, width, height, horizon):
        self.rng, self.W, self.H, self.hz = rng, width, height, horizon
        self.objects: List[dict] = []
        self.facts: List[tuple] = []  # (subject index, object index, fine predicate)
        self.band: Optional[int] = None
        self.mains: List[int] = []    # group roots: candidates for spatial relations
        self.group: List[int] = []    # group id per object

    def add(self, gid, **o) -> int:
        self.objects.append(o)
        self.group.append(gid)
        return len(self.objects) - 1

    def scale(self, base):
        t = (base - self.hz) / max(1.0, self.H - self.hz)
        return (0.62 + 0.5 * t) * self.H / 210.0

    def in_band(self, base):
        if self.band is None:
            return False
        b = self.objects[self.band]
        return b["y1"] + 2 <= base <= b["y2"]


def _choice(rng, items, p=None):
    if p is not None:
        p = np.asarray(p, float)
        p = p / p.sum()
    return items[int(rng.choice(len(items), p=p))]


def _accessories(sc: _Scene, gid, pi, person, allow_carry=True):
    """Worn and held items of person ``pi`` (adds objects and facts)."""
    rng = sc.rng
    g = person_geom(person)
    s, d = person["s"] * (0.74 if person["cls"] in ("boy", "girl") else 1.0), person["dir"]
    z = person["z"]
    hx, hy = g["head"]
    u = rng.random()
    if u < 0.24:
        i = sc.add(gid, cls="hat", x=hx, base=hy - 0.55 * g["hr"], s=s, z=z + 0.01)
        sc.facts.append((pi, i, "wearing"))
    elif u < 0.32 or (person.get("pose") == "ride" and u < 0.6):
        i = sc.add(gid, cls="helmet", x=hx, base=hy - 0.2 * g["hr"], s=s, z=z + 0.01)
        sc.facts.append((pi, i, "wearing"))
    if person["cls"] in ("man", "boy") and person.get("pose") != "lie" and rng.random() < 0.2:
        i = sc.add(gid, cls="tie", x=person["x"], base=g["sh"] + 1, s=s, z=z + 0.01)
        sc.facts.append((pi, i, "wearing"))
    arm = person.get("arm", "none")
    if arm == "none" or "hand" not in g:
        return
    hx, hy = g["hand"]
    if arm == "hold":
        cls = _choice(rng, ["cup", "bag", "book", "bottle", "kite"], [3, 3, 1.5, 1.5, 1.5])
        if cls == "kite":
            ky = max(12.0, sc.hz * rng.uniform(0.3, 0.7))
            i = sc.add(gid, cls="kite", x=hx + d * rng.uniform(10, 40), base=ky, s=s, z=-400,
                       string_to=(hx, hy))
            sc.facts.append((pi, i, "holding"))
            return
        base = hy + {"cup": 10, "bag": 16, "book": 5, "bottle": 12}[cls] * s
        i = sc.add(gid, cls=cls, x=hx, base=base, s=s, z=z + 0.02)
        sc.facts.append((pi, i, "holding"))
    elif arm == "raise":
        i = sc.add(gid, cls="umbrella", x=hx, base=hy + 3 * s, s=s, z=z + 0.02)
        sc.facts.append((pi, i, "holding"))
    elif arm == "carry" and allow_carry:
        cls = _choice(rng, ["surfboard", "skateboard", "bag"], [1, 1, 1])
        dx = {"surfboard": 9, "skateboard": 5, "bag": 10}[cls] * s
        base = {"surfboard": hy + 24 * s, "skateboard": hy + 14 * s, "bag": hy + 10 * s}[cls]
        i = sc.add(gid, cls=cls, x=hx + d * dx, base=base, s=s, z=z + 0.02, pose="carry")
        sc.facts.append((pi, i, "carrying"))
    elif arm == "eat":
        i = sc.add(gid, cls="pizza", x=hx, base=hy, s=s, z=z + 0.02, pose="slice")
        sc.facts.append((pi, i, "eating"))


def _person_cls(rng):
    return _choice(rng, list(PERSONS), [4, 3, 1.5, 1.5])


def _arm(rng, allow=("none", "hold", "raise", "carry", "eat")):
    p = {"none": 0.45, "hold": 0.27, "raise": 0.1, "carry": 0.12, "eat": 0.04}
    return _choice(rng, list(allow), [p[a] for a in allow])


def _g_person(sc: _Scene, gid, x, base):
    rng = sc.rng
    s = sc.scale(base)
    d = 1 if rng.random() < 0.5 else -1
    on_band = sc.in_band(base)
    skate = rng.random() < 0.12
    pose = "walk" if rng.random() < 0.35 else "stand"
    person = dict(cls=_person_cls(rng), x=x, base=base, s=s, dir=d, pose=pose, arm=_arm(rng),
                  z=base)
    if skate:
        person["pose"] = "stand"
        person["base"] = base - 7 * s
        k = sc.add(gid, cls="skateboard", x=x, base=base, s=s, z=base - 0.01)
    pi = sc.add(gid, **person)
    sc.mains.append(pi)
    if skate:
        sc.facts.append((pi, k, "standing on"))
        if on_band:
            sc.facts.append((k, sc.band, "on"))
    elif on_band:
        sc.facts.append((pi, sc.band, "walking on" if pose == "walk" else "standing on"))
    _accessories(sc, gid, pi, person)
    return 40 * s


def _g_seat(sc: _Scene, gid, x, base):
    rng = sc.rng
    s = sc.scale(base)
    d = 1 if rng.random() < 0.5 else -1
    seat = _choice(rng, ["bench", "chair", "bed"], [5, 3, 2.5])
    fi = sc.add(gid, cls=seat, x=x, base=base, s=s, dir=d, z=base - 0.05)
    sc.mains.append(fi)
    fg = furniture_geom(sc.objects[fi])
    u = rng.random()
    if u < 0.2:
        return fg["w"]
    if seat in ("bed", "bench") and u < (0.6 if seat == "bed" else 0.32):
        if rng.random() < 0.3:  # an animal lying on it
            cls = _choice(rng, ["dog", "cat"])
            ai = sc.add(gid, cls=cls, x=x, base=fg["top"] + 1, s=s * 0.8, dir=d, pose="lie", z=base)
            sc.facts.append((ai, fi, "lying on"))
            return fg["w"]
        person = dict(cls=_person_cls(rng), x=x, base=base, s=s, dir=d, pose="lie",
                      seat_y=fg["top"], z=base)
        pi = sc.add(gid, **person)
        sc.facts.append((pi, fi, "lying on"))
        _accessories(sc, gid, pi, person)
        return fg["w"]
    px = x if seat == "chair" else x + rng.uniform(-0.2, 0.2) * fg["w"]
    person = dict(cls=_person_cls(rng), x=px, base=base, s=s, dir=d, pose="sit",
                  seat_y=fg["top"], arm=_arm(rng, ("none", "hold", "eat")), z=base)
    pi = sc.add(gid, **person)
    sc.mains.append(pi)
    sc.facts.append((pi, fi, "sitting on"))
    _accessories(sc, gid, pi, person)
    return fg["w"]


def _g_ride(sc: _Scene, gid, x, base):
    rng = sc.rng
    s = sc.scale(base)
    d = 1 if rng.random() < 0.5 else -1
    mount = _choice(rng, ["horse", "elephant", "motorcycle"], [4.5, 2, 3.5])
    mo = dict(cls=mount, x=x, base=base, s=s, dir=d, z=base - 0.01)
    if mount == "motorcycle":
        seat_y, w = vehicle_geom(mo)["seat_y"], vehicle_geom(mo)["L"]
        px = x - d * 0.05 * w
    else:
        g = animal_geom(mo)
        seat_y, w, px = g["back"] + 2, g["bw"], x - d * 0.05 * g["bw"]
    mi = sc.add(gid, **mo)
    sc.mains.append(mi)
    if mount != "motorcycle" and sc.in_band(base) and rng.random() < 0.5:
        sc.facts.append((mi, sc.band, "standing on"))
    person = dict(cls=_person_cls(rng), x=px, base=base, s=s * 0.9, dir=d, pose="ride",
                  seat_y=seat_y, arm=_arm(rng, ("none", "hold")), z=base)
    pi = sc.add(gid, **person)
    sc.facts.append((pi, mi, "riding"))
    _accessories(sc, gid, pi, person, allow_carry=False)
    return w


def _g_vehicle(sc: _Scene, gid, x, base):
    rng = sc.rng
    s = sc.scale(base)
    cls = _choice(rng, ["car", "bus", "truck", "motorcycle"], [5, 1.5, 2, 1.5])
    o = dict(cls=cls, x=x, base=base, s=s, dir=1, z=base)
    g = vehicle_geom(o)
    vi = sc.add(gid, **o)
    sc.mains.append(vi)
    if sc.in_band(base) and sc.objects[sc.band]["cls"] == "street":
        sc.facts.append((vi, sc.band, "parked on"))
    if cls != "motorcycle" and rng.random() < 0.15:
        bi = sc.add(gid, cls="bird", x=x + rng.uniform(-0.3, 0.3) * g["L"], base=g["roof"] + 1,
                    s=s, dir=_side(rng), z=base + 0.01)
        sc.facts.append((bi, vi, "on"))
    return g["L"]


def _side(rng):
    return 1 if rng.random() < 0.5 else -1


def _g_animal(sc: _Scene, gid, x, base):
    rng = sc.rng
    s = sc.scale(base)
    cls = _choice(rng, list(ANIMAL), [2, 1.2, 1.2, 1, 1.2, 1.2, 1, 1])
    d = _side(rng)
    pose = "eat" if rng.random() < 0.16 and cls not in ("dog", "cat") else "stand"
    if cls in ("dog", "cat") and sc.in_band(base) and rng.random() < 0.3:
        pose = "lie"
    o = dict(cls=cls, x=x, base=base, s=s, dir=d, pose=pose, z=base)
    ai = sc.add(gid, **o)
    sc.mains.append(ai)
    g = animal_geom(o)
    if sc.in_band(base) and (pose == "lie" or rng.random() < 0.55):
        sc.facts.append((ai, sc.band, "lying on" if pose == "lie" else "standing on"))
    if pose == "eat":
        pi = sc.add(gid, cls="plant", x=g["head"][0] + d * g["hr"] * 0.5, base=base + 2, s=s,
                    z=base + 0.01)
        sc.facts.append((ai, pi, "eating"))
    return g["bw"] + 20 * s


def _g_table(sc: _Scene, gid, x, base):
    rng = sc.rng
    s = sc.scale(base)
    o = dict(cls="table", x=x, base=base, s=s, z=base)
    ti = sc.add(gid, **o)
    sc.mains.append(ti)
    g = furniture_geom(o)
    n = int(rng.integers(1, 4))
    slots = np.linspace(g["x1"] + 0.2 * g["w"], g["x2"] - 0.2 * g["w"], n)
    for k in range(n):
        cls = _choice(rng, ["cup", "bottle", "book", "vase", "plate"], [3, 2, 1.5, 1.5, 2])
        ii = sc.add(gid, cls=cls, x=slots[k], base=g["top"] + 1, s=s, z=base + 0.01)
        sc.facts.append((ii, ti, "on"))
        if cls == "vase" and rng.random() < 0.7:
            fi = sc.add(gid, cls="flower", x=slots[k], base=g["top"] - 14 * s, s=s, z=base + 0.005)
            sc.facts.append((fi, ii, "in"))
        if cls == "plate" and rng.random() < 0.7:
            pi = sc.add(gid, cls="pizza", x=slots[k], base=g["top"] - 2 * s, s=s, z=base + 0.02)
            sc.facts.append((pi, ii, "on"))
    if rng.random() < 0.25:
        cls = _choice(rng, ["dog", "cat"])
        ai = sc.add(gid, cls=cls, x=x, base=base - 1, s=s * 0.85, dir=_side(rng), z=base - 0.01)
        sc.facts.append((ai, ti, "under"))
    w = g["w"]
    if rng.random() < 0.3:
        d = _side(rng)
        cx = x - d * (0.5 * g["w"] + 12 * s)
        c = dict(cls="chair", x=cx, base=base + 2, s=s, dir=d, z=base + 0.03)
        ci = sc.add(gid, **c)
        sc.mains.append(ci)
        cg = furniture_geom(c)
        person = dict(cls=_person_cls(rng), x=cx, base=base + 2, s=s, dir=d, pose="sit",
                      seat_y=cg["top"], arm=_arm(rng, ("none", "hold", "eat")), z=base + 0.04)
        pi = sc.add(gid, **person)
        sc.facts.append((pi, ci, "sitting on"))
        _accessories(sc, gid, pi, person)
        w += 30 * s
    return w


def _g_building(sc: _Scene, gid, x, base):
    rng = sc.rng
    s = sc.scale(base)
    w = rng.uniform(44, 70) * s
    h = min(base - 6, rng.uniform(90, 140) * s)
    o = dict(cls="building", x=x, base=base, s=s, w=w, h=h, z=base - 30)
    bi = sc.add(gid, **o)
    sc.mains.append(bi)
    top = base - h
    ww, wh = 14 * s, 17 * s
    ncol = int(rng.integers(1, 3))
    nrow = 1 if rng.random() < 0.75 else 2
    xs = [x] if ncol == 1 else [x - w / 4, x + w / 4]
    for r in range(nrow):
        wb = top + (0.45 + 0.3 * r) * h
        if wb > base - 4 * s:
            continue
        for cx in xs:
            wi = sc.add(gid, cls="window", x=cx, base=wb, w=ww, h=wh, s=s, z=o["z"] + 0.01)
            sc.facts.append((bi, wi, "has"))
    if rng.random() < 0.35:
        ci = sc.add(gid, cls="clock", x=x, base=top + 0.2 * h, s=s, z=o["z"] + 0.01)
        sc.facts.append((ci, bi, "mounted on"))
    if rng.random() < 0.12:
        bd = sc.add(gid, cls="bird", x=x + rng.uniform(-0.3, 0.3) * w, base=top - 4, s=s,
                    dir=_side(rng), z=o["z"] + 0.02)
        sc.facts.append((bd, bi, "on"))
    return w


def _g_pole(sc: _Scene, gid, x, base):
    rng = sc.rng
    s = sc.scale(base)
    h = min(base - 8, rng.uniform(70, 95) * s)
    d = _side(rng)
    kind = _choice(rng, ["mounted", "hanging", "flag", "clock"], [4.5, 2.5, 2, 1])
    o = dict(cls="pole", x=x, base=base, s=s, h=h, dir=d, arm=kind == "hanging", z=base)
    pi = sc.add(gid, **o)
    sc.mains.append(pi)
    top = base - h
    if kind == "mounted":
        si = sc.add(gid, cls="sign", x=x, base=top + 14 * s, s=s, z=base + 0.01)
        sc.facts.append((si, pi, "mounted on"))
    elif kind == "hanging":
        ax = x + d * 16 * s
        si = sc.add(gid, cls="sign", x=ax, base=top + 20 * s, s=s, pose="hang", z=base + 0.01)
        sc.facts.append((si, pi, "hanging from"))
    elif kind == "flag":
        fi = sc.add(gid, cls="flag", x=x + d * 3 * s, base=top + 2, s=s, dir=d, z=base + 0.01)
        sc.facts.append((fi, pi, "attached to"))
    else:
        ci = sc.add(gid, cls="clock", x=x, base=top + 12 * s, s=s, z=base + 0.01)
        sc.facts.append((ci, pi, "mounted on"))
    return 30 * s


def _g_tree(sc: _Scene, gid, x, base):
    rng = sc.rng
    s = sc.scale(base)
    o = dict(cls="tree", x=x, base=base, s=s, z=base - 0.02)
    ti = sc.add(gid, **o)
    sc.mains.append(ti)
    if rng.random() < 0.3:
        tx, ty = tree_top(o)
        bi = sc.add(gid, cls="bird", x=tx + rng.uniform(-8, 8) * s, base=ty + 4 * s, s=s,
                    dir=_side(rng), z=base + 0.01)
        sc.facts.append((bi, ti, "on"))
    return 52 * s


GROUPS = {  # name: (builder, weight, nominal width at s=1, needs band)
    "person": (_g_person, 5.0, 40), "seat": (_g_seat, 2.6, 60), "ride": (_g_ride, 1.4, 60),
    "vehicle": (_g_vehicle, 1.6, 70), "animal": (_g_animal, 2.6, 55),
    "table": (_g_table, 2.2, 66), "building": (_g_building, 0.8, 60),
    "pole": (_g_pole, 1.3, 25), "tree": (_g_tree, 1.2, 52),
}


def sample_scene(rng: np.random.Generator, holdout=frozenset(), max_tries: int = 50) -> dict:
    """Samples one scene: size, objects (dicts the renderer draws) and fine facts.

    Facts whose (subject class, fine predicate, object class) is in ``holdout`` are never
    produced (the scene is re-drawn). Spatial facts (near, in front of, behind, above) are
    added after rendering, from the drawn boxes.
    """
    for _ in range(max_tries):
        sc = _sample_once(rng)
        bad = any((sc.objects[a]["cls"], p, sc.objects[b]["cls"]) in holdout
                  for a, b, p in sc.facts)
        if not bad and len(sc.objects) >= 2:
            break
    return {"width": sc.W, "height": sc.H, "horizon": sc.hz, "objects": sc.objects,
            "facts": sc.facts, "mains": sc.mains, "group": sc.group}


def _sample_once(rng) -> _Scene:
    W, H = int(rng.integers(192, 257)), int(rng.integers(176, 257))
    hz = int(H * rng.uniform(0.36, 0.5))
    sc = _Scene(rng, W, H, hz)
    if rng.random() < 0.6:
        cls = _choice(rng, ["street", "sidewalk", "snow", "beach"], [4, 2.5, 1.2, 1.5])
        y1 = hz + rng.uniform(0.25, 0.5) * (H - hz)
        y2 = min(H + 1, y1 + rng.uniform(0.35, 0.6) * (H - hz))
        sc.band = sc.add(-1, cls=cls, y1=y1, y2=y2, x=W / 2, base=y2, s=1.0, z=-1000)
    n_groups = int(rng.choice([1, 2, 3, 4], p=[0.12, 0.35, 0.35, 0.18]))
    names = list(GROUPS)
    weights = np.array([GROUPS[n][1] for n in names])
    slot = W / n_groups
    for k in range(n_groups):
        for _ in range(5):
            name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
            t = rng.uniform(0.3, 1.0)
            base = hz + t * (H - hz)
            if sc.band is not None and rng.random() < 0.6:
                b = sc.objects[sc.band]
                base = rng.uniform(b["y1"] + 3, min(H - 1, b["y2"]))
            if GROUPS[name][2] * sc.scale(base) <= slot * 1.25:
                break
        x = (k + 0.5) * slot + rng.uniform(-0.22, 0.22) * slot
        n_obj, n_fact, n_mains = len(sc.objects), len(sc.facts), len(sc.mains)
        GROUPS[name][0](sc, k, x, base)
        if len(sc.objects) > MAX_OBJECTS - 1:  # undo a group that does not fit
            del sc.objects[n_obj:], sc.group[n_obj:], sc.facts[n_fact:], sc.mains[n_mains:]
    # a person looking at the nearest object of another group (profile face towards it)
    for pi in list(sc.mains):
        o = sc.objects[pi]
        if o["cls"] in PERSONS and o.get("pose") in ("stand", "walk", "sit") \
                and rng.random() < 0.15:
            others = [j for j in sc.mains if sc.group[j] != sc.group[pi]]
            if others:
                j = min(others, key=lambda j: abs(sc.objects[j]["x"] - o["x"]))
                o["look"] = 1 if sc.objects[j]["x"] > o["x"] else -1
                sc.facts.append((pi, j, "looking at"))
    # things in the sky
    u = rng.random()
    if u < 0.35 and len(sc.objects) < MAX_OBJECTS:
        cls = "bird" if u < 0.22 else "airplane"
        s = H / 210.0
        sc.add(-2, cls=cls, x=rng.uniform(0.15, 0.85) * W, base=rng.uniform(0.25, 0.8) * hz,
               s=s * (0.9 if cls == "bird" else 0.8), dir=_side(rng), pose="fly", z=-500)
        sc.mains.append(len(sc.objects) - 1)
    return sc


def _spatial_facts(scene, boxes, rng, cfg) -> List[tuple]:
    """near / in front of / behind / above between objects of different groups."""
    objs, H, hz = scene["objects"], scene["height"], scene["horizon"]
    mains = scene["mains"]
    out = []
    depth_eps = 0.06 * (H - hz)
    for a_i, a in enumerate(mains):
        for b in mains[a_i + 1:]:
            if scene["group"][a] == scene["group"][b]:
                continue
            oa, ob = objs[a], objs[b]
            ba, bb = boxes[a], boxes[b]
            sky_a, sky_b = oa["z"] <= -400, ob["z"] <= -400
            if sky_a or sky_b:
                top, low = (a, b) if sky_a else (b, a)
                if sky_a and sky_b:
                    continue
                bt, bl = boxes[top], boxes[low]
                xover = min(bt[2], bl[2]) - max(bt[0], bl[0])
                if xover > 0.3 * (bt[2] - bt[0]) and bt[3] < bl[1]:
                    if rng.random() < cfg.spatial_prob:
                        out.append((top, low, "above"))
                continue
            iw = min(ba[2], bb[2]) - max(ba[0], bb[0])
            ih = min(ba[3], bb[3]) - max(ba[1], bb[1])
            dz = ob["base"] - oa["base"]
            if iw > 0 and ih > 0 and abs(dz) > depth_eps:
                near_i, far_i = (b, a) if dz > 0 else (a, b)
                if rng.random() < cfg.spatial_prob:
                    out.append((near_i, far_i, "in front of") if rng.random() < 0.5
                               else (far_i, near_i, "behind"))
            elif iw <= 0 and -iw < 0.12 * scene["width"] and abs(dz) < 0.1 * (H - hz):
                if rng.random() < cfg.spatial_prob:
                    out.append((a, b, "near") if rng.random() < 0.5 else (b, a, "near"))
    return out


# --------------------------------------------------------------------------- one image
_CTX: dict = {}


def _make_image(job):
    """Samples, renders and annotates image ``job = (kind, index)``; writes the JPEG."""
    kind, i = job
    cfg, seed, out = _CTX["cfg"], _CTX["seed"], _CTX["out"]
    holdout = _CTX["holdout"]
    cls_idx = {c: k + 1 for k, c in enumerate(OBJECT_CLASSES)}
    pred_idx = {p: k + 1 for k, p in enumerate(PREDICATES)}
    rng = np.random.default_rng([seed, 0 if kind == "vg" else 1, i])
    split = 2 if rng.random() < (cfg.test_fraction if kind == "vg"
                                  else cfg.coco_val_fraction) else 0
    for _ in range(20):
        scene = sample_scene(rng, holdout if (kind == "vg" and split == 0) else frozenset())
        W, H = scene["width"], scene["height"]
        img, boxes, areas, masks = render(scene["objects"], W, H, scene["horizon"], rng,
                                          want_masks=True)
        vis_area = masks.reshape(masks.shape[0], -1).sum(1)
        # keep objects that are large enough and visible enough
        keep = ((boxes[:, 2] - boxes[:, 0]) >= 4) & ((boxes[:, 3] - boxes[:, 1]) >= 4)
        keep &= vis_area >= cfg.min_visible * np.maximum(areas, 1)
        facts = list(scene["facts"]) + _spatial_facts(scene, boxes, rng, cfg)
        facts = [f for f in facts if keep[f[0]] and keep[f[1]]]
        if kind == "vg" and split == 0:
            facts = [f for f in facts if (scene["objects"][f[0]]["cls"], f[2],
                                          scene["objects"][f[1]]["cls"]) not in holdout]
        facts = list(dict.fromkeys(facts))
        if len(facts) > MAX_RELATIONS:
            sel = np.sort(rng.choice(len(facts), MAX_RELATIONS, replace=False))
            facts = [facts[k] for k in sel]
        if kind == "coco":
            if any(keep[k] and o["cls"] in COCO_NAME for k, o in enumerate(scene["objects"])):
                break
        elif facts and keep.sum() >= 2:
            break
    new = -np.ones(len(keep), np.int64)
    new[keep] = np.arange(int(keep.sum()))
    labels = np.array([cls_idx[scene["objects"][k]["cls"]] for k in np.nonzero(keep)[0]], np.int64)
    rels = np.zeros((len(facts), 3), np.int64)
    fine = []
    for r, (a, b, p) in enumerate(facts):
        parent = COARSE_PARENT.get(p)
        rep = parent if parent is not None and rng.random() < cfg.coarse_prob else p
        rels[r] = (new[a], new[b], pred_idx[rep])
        fine.append(pred_idx[p])
    image_id = i + 1
    folder = out / ("images" if kind == "vg" else "coco/images")
    img.save(folder / f"{image_id}.jpg", quality=cfg.jpeg_quality)
    rec = {"image_id": image_id, "width": W, "height": H, "file_name": f"{image_id}.jpg",
           "boxes": boxes[keep].astype(np.float32), "labels": labels, "relations": rels,
           "fine_predicates": np.array(fine, np.int64), "split": split}
    if kind == "coco":
        names = [COCO_NAME.get(scene["objects"][k]["cls"]) for k in np.nonzero(keep)[0]]
        sel = np.array([n is not None for n in names], bool)
        vm = masks[keep][sel]
        sel_idx = np.nonzero(sel)[0]
        area_ok = vm.reshape(vm.shape[0], -1).sum(1) >= 16
        sel_idx, vm = sel_idx[area_ok], vm[area_ok]
        rec = {"id": image_id, "file_name": f"{image_id}.jpg", "width": W, "height": H,
               "boxes": _mask_boxes(vm), "vg_labels": labels[sel_idx],
               "labels": np.array([COCO_CLASSES.index(names[k]) + 1 for k in sel_idx], np.int64),
               "packed_masks": np.packbits(vm.astype(bool), axis=-1), "val": split == 2}
    return rec


def _mask_boxes(masks: np.ndarray) -> np.ndarray:
    """``[N, H, W]`` bool -> ``[N, 4]`` float32 xyxy boxes (pixel edges) of the masks."""
    rows, cols = masks.any(2), masks.any(1)
    n = masks.shape[0]
    out = np.zeros((n, 4), np.float32)
    if n:
        out[:, 0] = cols.argmax(1)
        out[:, 1] = rows.argmax(1)
        out[:, 2] = cols.shape[1] - cols[:, ::-1].argmax(1)
        out[:, 3] = rows.shape[1] - rows[:, ::-1].argmax(1)
    return out


# --------------------------------------------------------------------------- whole dataset
def _init_worker(ctx):
    _CTX.update(ctx)


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


class _LazyCocoImages(Sequence):
    """COCO image records whose masks are unpacked on access (keeps memory small)."""

    def __init__(self, recs):
        self.recs = recs

    def __len__(self):
        return len(self.recs)

    def __getitem__(self, k):
        r = self.recs[k]
        n = len(r["labels"])
        masks = np.unpackbits(r["packed_masks"], axis=-1, count=r["width"]).astype(np.uint8)
        masks = masks.reshape(n, r["height"], r["width"])
        return {"id": r["id"], "file_name": r["file_name"], "width": r["width"],
                "height": r["height"], "boxes": r["boxes"], "labels": r["labels"], "masks": masks}


def generate(out_dir, num_images: int = 4000, seed: int = 0, cfg: Optional[SynthConfig] = None,
             workers: Optional[int] = None, progress: bool = True,
             num_coco_images: Optional[int] = None, return_records: bool = False):
    """Generates SynthVG (+ SynthCOCO) into ``out_dir``; returns the report (also written as
    ``report.json``). Deterministic in ``(num_images, seed, cfg)``, whatever ``workers``.

    With ``return_records``: ``(report, vg_records, coco_records)``, the generator's own
    per-image records (``boxes``, ``labels``, ``relations``, ``fine_predicates``, ``split``;
    COCO: ``boxes``, ``labels``, ``packed_masks``, ``val``)."""
    from .coco_writer import write_coco_instances
    from .vg_writer import write_vg150

    t0 = time.time()
    cfg = cfg or SynthConfig()
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "coco" / "images").mkdir(parents=True, exist_ok=True)
    (out / "coco" / "annotations").mkdir(parents=True, exist_ok=True)
    if num_coco_images is None:
        num_coco_images = max(2, int(round(cfg.coco_fraction * num_images)))
    holdout = choose_holdout(seed, cfg)
    ctx = {"cfg": cfg, "seed": seed, "out": out, "holdout": frozenset(holdout)}
    jobs = [("vg", i) for i in range(num_images)] + [("coco", j) for j in range(num_coco_images)]
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if len(jobs) >= 200 else 1
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc="SynthVG", unit="img", file=sys.stderr, mininterval=1.0,
                   disable=None)  # None: no bar when stderr is not a terminal
    recs = []
    if workers <= 1:
        _init_worker(ctx)
        for j in jobs:
            recs.append(_make_image(j))
            if bar is not None:
                bar.update()
    else:
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        with mp.get_context(method).Pool(workers, _init_worker, (ctx,)) as pool:
            for r in pool.imap(_make_image, jobs, chunksize=8):
                recs.append(r)
                if bar is not None:
                    bar.update()
    if bar is not None:
        bar.close()
    vg, coco = recs[:num_images], recs[num_images:]
    obj_names = ["__background__"] + list(OBJECT_CLASSES)
    pred_names = ["__background__"] + list(PREDICATES)
    write_vg150(out, vg, obj_names, pred_names)
    for part, val in (("train", False), ("val", True)):
        sel = [r for r in coco if r["val"] == val]
        write_coco_instances(out / "coco" / "annotations" / f"instances_{part}.json",
                             _LazyCocoImages(sel), ["__background__"] + list(COCO_CLASSES))
    with open(out / "holdout_triplets.json", "w") as f:
        json.dump([list(t) for t in holdout], f)
    report = build_report(vg, coco, holdout)
    report["generator_version"] = GENERATOR_VERSION
    report["generation_seconds"] = round(time.time() - t0, 2)
    report["config"] = {"num_images": num_images, "seed": seed, "workers": workers, **asdict(cfg)}
    with open(out / "report.json", "w") as f:
        json.dump(report, f, indent=1)
    if return_records:
        return report, vg, coco
    return report


def build_report(vg: List[dict], coco: List[dict], holdout=()) -> dict:
    """Class / predicate histograms, per-image counts, zero-shot and few-shot figures."""
    from .statistics import few_shot_bins, triplet_counts, zero_shot_mask

    labels = np.concatenate([r["labels"] for r in vg])
    n_obj = np.array([len(r["labels"]) for r in vg])
    n_rel = np.array([len(r["relations"]) for r in vg])
    split = np.array([r["split"] for r in vg])

    def triplets(recs):  # (subject class, object class, predicate)
        t = [np.stack([r["labels"][r["relations"][:, 0]], r["labels"][r["relations"][:, 1]],
                       r["relations"][:, 2]], 1) for r in recs if len(r["relations"])]
        return np.concatenate(t) if t else np.zeros((0, 3), np.int64)

    tr = triplets([r for r in vg if r["split"] == 0])
    te = triplets([r for r in vg if r["split"] == 2])
    preds = np.concatenate([tr[:, 2], te[:, 2]])
    pc = np.bincount(preds, minlength=len(PREDICATES) + 1)[1:]
    frac = pc / max(1, pc.sum())
    zs = zero_shot_mask(tr, te)
    train_counts = triplet_counts(tr)
    bins = [(0, 0), (1, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, 10 ** 9)]
    fs = few_shot_bins(train_counts, te, bins)
    coco_labels = np.concatenate([r["labels"] for r in coco]) if coco else np.zeros(0, int)
    no_same = [c for c in OBJECT_CLASSES if c not in COCO_CLASSES]
    return {
        "num_images": {"train": int((split == 0).sum()), "test": int((split == 2).sum())},
        # VGDataset takes val from the first train images (SGB default 5000: too many here)
        "recommended_num_val_images": int(round(0.1 * (split == 0).sum())),
        "num_objects": int(labels.size), "num_relations": int(n_rel.sum()),
        "objects_per_image": {"min": int(n_obj.min()), "mean": round(float(n_obj.mean()), 2),
                              "max": int(n_obj.max())},
        "relations_per_image": {"min": int(n_rel.min()), "mean": round(float(n_rel.mean()), 2),
                                "max": int(n_rel.max())},
        "image_sizes": {"min": int(min(min(r["width"], r["height"]) for r in vg)),
                        "max": int(max(max(r["width"], r["height"]) for r in vg))},
        "num_object_classes": len(OBJECT_CLASSES), "num_predicates": len(PREDICATES),
        "class_counts": {c: int(n) for c, n in zip(
            OBJECT_CLASSES, np.bincount(labels, minlength=len(OBJECT_CLASSES) + 1)[1:])},
        "predicate_counts": {p: int(n) for p, n in zip(PREDICATES, pc)},
        "predicate_fractions": {p: round(float(f), 4) for p, f in zip(PREDICATES, frac)},
        "top_predicate": PREDICATES[int(frac.argmax())],
        "top_predicate_fraction": round(float(frac.max()), 4),
        "num_predicates_under_2pct": int((frac < 0.02).sum()),
        "zero_shot_fraction": round(float(zs.mean()) if zs.size else 0.0, 4),
        "num_zero_shot_triplets": int(len({tuple(t) for t in te[zs]})),
        "num_holdout_triplets": len(holdout),
        "num_train_triplets": int(len(train_counts[0])),
        "few_shot_bins_test_relations": {f"{lo}-{hi}" if hi < 10 ** 9 else f">{lo - 1}": int(n)
                                         for (lo, hi), n in zip(bins, fs)},
        "coco": {"classes": list(COCO_CLASSES), "num_images": len(coco),
                 "num_annotations": int(coco_labels.size),
                 "class_counts": {c: int(n) for c, n in zip(COCO_CLASSES, np.bincount(
                     coco_labels, minlength=len(COCO_CLASSES) + 1)[1:])},
                 "vg_classes_without_same_named_coco_class": len(no_same)},
    }


def format_report(rep: dict) -> str:
    lines = [f"SynthVG: {rep['num_images']['train']} train + {rep['num_images']['test']} "
             f"test images, "
             f"{rep['num_objects']} objects, {rep['num_relations']} relations, "
             f"{rep['num_object_classes']} classes, {rep['num_predicates']} predicates",
             f"objects/image {rep['objects_per_image']}, "
             f"relations/image {rep['relations_per_image']}",
             "predicates:"]
    for p, n in sorted(rep["predicate_counts"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {p:14s} {n:7d}  {100 * rep['predicate_fractions'][p]:5.1f}%")
    by_count = sorted(rep["class_counts"].items(), key=lambda kv: -kv[1])
    lines.append("classes: " + ", ".join(f"{c} {n}" for c, n in by_count))
    lines.append(f"zero-shot test relations: {100 * rep['zero_shot_fraction']:.1f}% "
                 f"({rep['num_zero_shot_triplets']} triplets), few-shot bins of test relations "
                 f"by train count: {rep['few_shot_bins_test_relations']}")
    c = rep["coco"]
    lines.append(f"SynthCOCO: {c['num_images']} images, {c['num_annotations']} masks, "
                 f"{len(c['classes'])} classes; {c['vg_classes_without_same_named_coco_class']} "
                 f"SynthVG classes have no same-named COCO class")
    if "generation_seconds" in rep:
        lines.append(f"generated in {rep['generation_seconds']:.1f} s")
    return "\n".join(lines)


def default_root(num_images: int = 4000, seed: int = 0) -> Path:
    from ..paths import cache_dir
    return cache_dir() / f"synthvg-s{seed}-n{num_images}"


def _generator_version(root: Path) -> Optional[int]:
    try:
        with open(root / "report.json") as f:
            return int(json.load(f).get("generator_version", 0))
    except (OSError, ValueError, AttributeError):
        return None


def ensure_dataset(root=None, num_images: int = 4000, seed: int = 0,
                   progress: bool = True) -> Path:
    """The SynthVG folder for ``(num_images, seed)``: generated once (under
    ``pyg_sgg.paths.cache_dir()`` when ``root`` is None), then reused instantly.

    A folder written by an older generator version is regenerated; a non-empty folder that
    is not a SynthVG folder is never touched (error)."""
    root = Path(root) if root is not None else default_root(num_images, seed)
    version = _generator_version(root)
    if version == GENERATOR_VERSION:
        return root
    if version is None and root.is_dir() and any(root.iterdir()):
        raise FileExistsError(f"{root}: field 'report.json': missing; the folder is not empty "
                              f"and not a SynthVG folder, refusing to overwrite it")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.tmp{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    rep = generate(tmp, num_images=num_images, seed=seed, progress=progress)
    if progress:
        print(format_report(rep), file=sys.stderr)
    if _generator_version(root) == GENERATOR_VERSION:  # a concurrent run finished first
        shutil.rmtree(tmp)
        return root
    if root.exists():  # an older version (or an empty folder)
        shutil.rmtree(root)
    os.replace(tmp, root)
    return root


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate SynthVG + SynthCOCO.")
    ap.add_argument("--out", default=None, help="output folder (default: the cache folder)")
    ap.add_argument("--num-images", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--coarse-prob", type=float, default=SynthConfig.coarse_prob)
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else default_root(args.num_images, args.seed)
    cfg = SynthConfig(coarse_prob=args.coarse_prob)
    rep = generate(out, args.num_images, args.seed, cfg, workers=args.workers)
    print(format_report(rep))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
