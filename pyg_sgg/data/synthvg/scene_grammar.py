"""Scene sampling: groups of objects (a person on a bench, a cup on a table, a rider on a
horse...) placed on a ground band, with the relations their placement decides."""
from typing import List, Optional

import numpy as np

from .geometry import ANIMAL, animal_geom, furniture_geom, person_geom, tree_top, vehicle_geom
from .vocabulary import PERSONS

MAX_OBJECTS, MAX_RELATIONS = 15, 10


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
