"""Where each part of an object is drawn (head, hands, seat, table top...), shared by the scene
sampler and the renderer so that relations land on the exact pixels drawn."""
from typing import Tuple

CANVAS = 256  # every scene is drawn on a CANVAS x CANVAS canvas, then cropped to (W, H)


# --------------------------------------------------------------------------- geometry
def person_geom(o) -> dict:
    """Anchor points of a person: head centre/radius, shoulder/hip y, hand, torso box."""
    s = o["s"] * (0.74 if o["cls"] in ("boy", "girl") else 1.0)
    h = 80.0 * s
    x, base, d = o["x"], o["base"], o.get("dir", 1)
    pose = o.get("pose", "stand")
    tw, th, hr = 0.26 * h, 0.32 * h, 0.095 * h
    g = {"h": h, "tw": tw, "th": th, "hr": hr, "dir": d}
    if pose == "lie":
        y = o["seat_y"] - 0.07 * h
        g.update(y=y, head=(x - d * 0.4 * h, y - 0.02 * h), hand=(x, y))
        return g
    if pose in ("sit", "ride"):
        hip = o["seat_y"]
    else:
        hip = base - 0.42 * h
    sh = hip - th
    head = (x, sh - 1.05 * hr)
    g.update(hip=hip, sh=sh, head=head)
    arm = o.get("arm", "none")
    if arm == "hold":
        g["hand"] = (x + d * 0.36 * h, sh + 0.16 * h)
    elif arm == "raise":
        g["hand"] = (x + d * 0.2 * h, sh - 0.12 * h)
    elif arm == "carry":
        g["hand"] = (x + d * (tw / 2 + 0.03 * h), hip - 0.05 * h)
    elif arm == "eat":
        g["hand"] = (x + d * 0.12 * h, head[1] + 0.5 * hr)
    else:
        g["hand"] = (x + d * (tw / 2 + 0.02 * h), hip)
    return g


# body width, body height, leg length, neck length, head radius (at s = 1)
ANIMAL = {
    "dog": (34, 14, 11, 6, 7), "cat": (26, 12, 8, 4, 6.5), "horse": (58, 22, 30, 18, 9),
    "elephant": (68, 38, 22, 4, 15), "giraffe": (40, 20, 32, 42, 7),
    "zebra": (54, 22, 26, 14, 8), "cow": (56, 26, 20, 8, 10), "sheep": (36, 22, 10, 4, 7),
}


def animal_geom(o) -> dict:
    bw, bh, leg, neck, hr = (v * o["s"] for v in ANIMAL[o["cls"]])
    x, base, d = o["x"], o["base"], o.get("dir", 1)
    if o.get("pose") == "lie":
        leg = 0.15 * leg
    body = (x - bw / 2, base - leg - bh, x + bw / 2, base - leg)
    front = (x + d * bw / 2, base - leg - bh)
    if o.get("pose") == "eat":
        head = (x + d * (bw / 2 + neck * 0.5 + hr), base - hr)
    else:
        head = (front[0] + d * (neck * 0.45 + hr * 0.6), front[1] - neck * 0.9 - hr * 0.2)
    return {"body": body, "front": front, "head": head, "hr": hr, "leg": leg, "back": body[1],
            "bw": bw, "bh": bh, "dir": d}


def vehicle_geom(o) -> dict:
    s = o["s"]
    L, Hh = {"car": (70, 32), "bus": (112, 56), "truck": (92, 50), "motorcycle": (44, 26)}[o["cls"]]
    L, Hh = L * s, Hh * s
    x, base = o["x"], o["base"]
    return {"box": (x - L / 2, base - Hh, x + L / 2, base), "roof": base - Hh, "L": L, "H": Hh,
            "seat_y": base - 0.62 * Hh}


def furniture_geom(o) -> dict:
    s, x, base = o["s"], o["x"], o["base"]
    w, top, high = {"bench": (56, 14, 30), "chair": (24, 16, 40), "bed": (78, 20, 30),
                    "table": (66, 30, 30)}[o["cls"]]
    w, top, high = w * s, top * s, high * s
    return {"x1": x - w / 2, "x2": x + w / 2, "top": base - top, "high": base - high, "w": w}


ITEM_GAIN = {"cup": 1.2, "bottle": 1.15, "book": 1.2, "vase": 1.1, "flower": 1.15,
             "plate": 1.1, "pizza": 1.15, "bag": 1.1, "hat": 1.15, "helmet": 1.2, "tie": 1.2}


def item_scale(o) -> float:
    """Drawing scale of a small item: at least 0.8, times the class's gain."""
    return max(o["s"], 0.8) * ITEM_GAIN.get(o["cls"], 1.0)


def tree_top(o) -> Tuple[float, float]:
    s = o["s"]
    r = 26 * s
    return o["x"], o["base"] - 50 * s - 1.6 * r
