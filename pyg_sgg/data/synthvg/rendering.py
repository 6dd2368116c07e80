"""PIL renderer of SynthVG scenes: one drawing function per class, exact per-object masks."""
from typing import Dict, List

import numpy as np
from PIL import Image, ImageDraw

from .geometry import (ANIMAL, CANVAS, animal_geom, furniture_geom, item_scale, person_geom,
                       vehicle_geom)
from .vocabulary import STYLE

SKIN = (236, 190, 150)


DARK = (45, 40, 50)


_TEXTURES: Dict[str, Image.Image] = {}


def texture(cls: str) -> Image.Image:
    """The class's fill pattern as a CANVAS x CANVAS RGB image (cached per process)."""
    tex = _TEXTURES.get(cls)
    if tex is None:
        main, kind, other = STYLE[cls]
        yy, xx = np.mgrid[0:CANVAS, 0:CANVAS]
        if kind == "hstripe":
            sel = (yy // 3) % 2 == 0
        elif kind == "vstripe":
            sel = (xx // 3) % 2 == 0
        elif kind == "dstripe":
            sel = ((xx + yy) // 3) % 2 == 0
        elif kind == "dots":
            sel = (xx % 6 < 2) & (yy % 6 < 2)
        elif kind == "check":
            sel = ((xx // 5) + (yy // 5)) % 2 == 0
        elif kind == "spots":
            sel = ((xx % 11 - 5) ** 2 + (yy % 11 - 5) ** 2 < 9) & ((xx // 11 + yy // 11) % 2 == 0)
        else:
            sel = np.zeros_like(xx, dtype=bool)
        arr = np.empty((CANVAS, CANVAS, 3), np.uint8)
        arr[:] = main
        if other is not None:
            arr[sel] = other
        tex = _TEXTURES[cls] = Image.fromarray(arr)
    return tex


class Canvas:
    """An RGB canvas that also records the exact mask of the object being drawn."""

    def __init__(self):
        self.img = Image.new("RGB", (CANVAS, CANVAS))
        self.draw = ImageDraw.Draw(self.img)
        self.mask = None

    def begin(self):
        self.mask = Image.new("L", (CANVAS, CANVAS), 0)
        self.mdraw = ImageDraw.Draw(self.mask)

    def end(self) -> np.ndarray:
        """The mask of everything drawn since ``begin`` (bool [CANVAS, CANVAS])."""
        m = np.asarray(self.mask) > 0
        self.mask = None
        return m

    def shape(self, kind: str, xy, fill, width: int = 1, in_mask: bool = True):
        """Draws ``kind`` ('polygon', 'ellipse', 'rectangle', 'line', 'pieslice') with a
        solid colour (tuple) or a class texture (class name) and adds it to the mask."""
        xy = [float(v) for v in np.asarray(xy, dtype=float).ravel()]
        kw = {"width": max(1, int(round(width)))} if kind == "line" else {}
        if kind == "pieslice":
            *xy, start, end = xy
            kw = {"start": start, "end": end}
            xy = [xy[0], xy[1], max(xy[2], xy[0]), max(xy[3], xy[1])]
        elif kind in ("ellipse", "rectangle"):
            xy = [xy[0], xy[1], max(xy[2], xy[0]), max(xy[3], xy[1])]
        if isinstance(fill, str):
            part = Image.new("L", (CANVAS, CANVAS), 0)
            getattr(ImageDraw.Draw(part), kind)(xy, fill=255, **kw)
            self.img.paste(texture(fill), (0, 0), part)
        else:
            getattr(self.draw, kind)(xy, fill=tuple(fill), **kw)
        if in_mask and self.mask is not None:
            getattr(self.mdraw, kind)(xy, fill=255, **kw)


# --------------------------------------------------------------------------- drawing
def _person(cv: Canvas, o):
    g = person_geom(o)
    cls, h, d, x = o["cls"], g["h"], g["dir"], o["x"]
    lw = max(2.0, 0.075 * h)
    female = cls in ("woman", "girl")
    if o.get("pose") == "lie":
        y, L = g["y"], 0.9 * h
        hx = g["head"][0]
        cv.shape("line", [x + d * 0.05 * h, y + 0.02 * h, x + d * 0.45 * h, y + 0.02 * h],
                 DARK, lw * 1.3)
        cv.shape("rectangle", [min(hx + d * 0.08 * h, x + d * 0.1 * h), y - g["tw"] / 2,
                               max(hx + d * 0.08 * h, x + d * 0.1 * h), y + g["tw"] / 2], cls)
        hr = g["hr"]
        cv.shape("ellipse", [hx - hr, g["head"][1] - hr, hx + hr, g["head"][1] + hr], SKIN)
        return
    hip, sh, tw = g["hip"], g["sh"], g["tw"]
    pose = o.get("pose", "stand")
    # legs
    if pose == "stand":
        for sx in (-0.3, 0.3):
            cv.shape("line", [x + sx * tw, hip, x + sx * tw, o["base"]], DARK, lw)
    elif pose == "walk":
        cv.shape("line", [x, hip, x - 0.16 * h, o["base"]], DARK, lw)
        cv.shape("line", [x, hip, x + 0.16 * h, o["base"]], DARK, lw)
    elif pose == "sit":
        kx = x + d * 0.2 * h
        cv.shape("line", [x, hip, kx, hip, kx, o["base"]], DARK, lw)
    elif pose == "ride":
        kx = x + d * 0.1 * h
        cv.shape("line", [x, hip, kx, hip + 0.16 * h, x - d * 0.02 * h, hip + 0.28 * h], DARK, lw)
    # long hair behind the head
    hx, hy = g["head"]
    hr = g["hr"]
    if female:
        cv.shape("ellipse", [hx - 1.25 * hr, hy - 1.1 * hr, hx + 1.25 * hr, hy + 2.0 * hr],
                 (225, 180, 60) if cls == "woman" else (120, 60, 20))
    # torso
    if female:
        flare = 0.12 * h
        bottom = hip + (0.12 * h if pose in ("stand", "walk") else 0.02 * h)
        cv.shape("polygon", [x - tw / 2, sh, x + tw / 2, sh, x + tw / 2 + flare, bottom,
                             x - tw / 2 - flare, bottom], cls)
    else:
        cv.shape("rectangle", [x - tw / 2, sh, x + tw / 2, hip], cls)
    # arms: the back arm hangs, the front arm does what ``arm`` says
    cv.shape("line", [x - d * tw / 2, sh + 0.02 * h, x - d * (tw / 2 + 0.03 * h), hip], SKIN, lw)
    hand = g["hand"]
    cv.shape("line", [x + d * tw / 2, sh + 0.02 * h, hand[0], hand[1]], SKIN, lw)
    # head and face
    cv.shape("ellipse", [hx - hr, hy - hr, hx + hr, hy + hr], SKIN)
    if not female:
        cv.shape("pieslice", [hx - hr, hy - hr, hx + hr, hy + hr, 180, 360],
                 (60, 35, 15) if cls == "man" else (15, 15, 15))
    look = o.get("look", 0)
    er = max(1.0, 0.16 * hr)
    if look == 0:  # frontal face: two eyes
        for ex in (-0.4, 0.4):
            cv.shape("ellipse", [hx + ex * hr - er, hy + 0.1 * hr - er, hx + ex * hr + er,
                                 hy + 0.1 * hr + er], DARK, in_mask=False)
    else:  # profile towards the looked-at object: one eye and a nose
        ex = hx + look * 0.45 * hr
        cv.shape("ellipse", [ex - er, hy - er, ex + er, hy + er], DARK, in_mask=False)
        cv.shape("polygon", [hx + look * 0.9 * hr, hy, hx + look * 1.45 * hr, hy + 0.35 * hr,
                             hx + look * 0.9 * hr, hy + 0.5 * hr], SKIN)


def _animal(cv: Canvas, o):
    g = animal_geom(o)
    cls, d, s = o["cls"], g["dir"], o["s"]
    x1, y1, x2, y2 = g["body"]
    leg, bw, hr = g["leg"], g["bw"], g["hr"]
    lw = max(2.0, 0.14 * bw if cls != "elephant" else 0.2 * bw)
    legc = STYLE[cls][0] if cls not in ("zebra", "cow", "giraffe", "sheep") else DARK
    if cls == "giraffe":
        legc = STYLE[cls][0]
    if leg > 1:
        for fx in (0.2, 0.38, 0.62, 0.8):
            lx = x1 + fx * bw
            cv.shape("line", [lx, y2 - 2, lx, o["base"]], legc, lw * 0.5)
    # tail
    tx = x1 if d > 0 else x2
    cv.shape("line", [tx, y1 + 3 * s, tx - d * 7 * s, y1 + 12 * s],
             legc if cls != "zebra" else DARK, 2)
    cv.shape("ellipse", [x1, y1, x2, y2], cls)
    # neck and head
    fx, fy = g["front"]
    hx, hy = g["head"]
    neckc = STYLE[cls][0]
    if cls == "giraffe":
        cv.shape("polygon", [fx - d * 9 * s, fy + 6 * s, fx, fy + 4 * s, hx, hy, hx - d * 6 * s,
                             hy], cls)
    else:
        cv.shape("line", [fx - d * 4 * s, fy + g["bh"] * 0.3, hx, hy],
                 neckc if cls != "zebra" else DARK, max(2, 0.5 * hr))
    headc = DARK if cls == "sheep" else (cls if cls in ("zebra", "giraffe") else neckc)
    cv.shape("ellipse", [hx - hr, hy - 0.8 * hr, hx + hr, hy + 0.8 * hr], headc)
    if cls == "elephant":  # ears and trunk
        cv.shape("ellipse", [hx - d * 1.2 * hr - 0.6 * hr, hy - 0.9 * hr,
                             hx - d * 1.2 * hr + 0.6 * hr, hy + 0.9 * hr], (115, 115, 125))
        cv.shape("line", [hx + d * 0.7 * hr, hy, hx + d * 1.1 * hr, hy + 1.6 * hr],
                 neckc, 0.45 * hr)
    elif cls in ("cat", "dog"):  # ears
        for ex in (-0.6, 0.3):
            ax = hx + ex * hr
            cv.shape("polygon", [ax, hy - 0.5 * hr, ax + 0.5 * hr, hy - 0.5 * hr, ax + 0.25 * hr,
                                 hy - 1.5 * hr], neckc)
    elif cls in ("horse", "zebra"):  # mane
        cv.shape("line", [fx - d * 3 * s, fy, hx - d * 0.6 * hr, hy - 0.6 * hr], DARK, 2)
    elif cls == "cow":
        cv.shape("line", [hx - 1.1 * hr, hy - 0.9 * hr, hx + 1.1 * hr, hy - 0.9 * hr],
                 (230, 230, 210), 2)
    ex = hx + d * 0.4 * hr
    cv.shape("ellipse", [ex - 1.2, hy - 0.2 * hr - 1.2, ex + 1.2, hy - 0.2 * hr + 1.2],
             (240, 240, 240) if cls in ("sheep", "horse") else DARK, in_mask=False)


def _bird(cv: Canvas, o):
    s, x, y = o["s"], o["x"], o["base"]
    d = o.get("dir", 1)
    bw, bh = 20 * s, 10 * s
    if o.get("pose") == "fly":
        cv.shape("polygon", [x - bw * 0.9, y - bh * 1.6, x, y - bh * 0.4, x + bw * 0.9,
                             y - bh * 1.6,
                             x, y + 0.1 * bh], "bird")
        cv.shape("ellipse", [x - bw / 2, y - bh, x + bw / 2, y], "bird")
    else:
        cv.shape("line", [x, y - 0.4 * bh, x, y], (230, 150, 0), 2)
        cv.shape("ellipse", [x - bw / 2, y - 1.4 * bh, x + bw / 2, y - 0.4 * bh], "bird")
        cv.shape("ellipse", [x + d * bw * 0.3 - 0.3 * bh, y - 1.9 * bh,
                             x + d * bw * 0.3 + 0.45 * bh, y - 1.1 * bh], "bird")
    bx = x + d * bw * 0.55
    cv.shape("polygon", [bx, y - 1.6 * bh, bx + d * 0.5 * bh, y - 1.45 * bh, bx, y - 1.3 * bh],
             (255, 170, 0))


def _vehicle(cv: Canvas, o):
    g = vehicle_geom(o)
    cls, s = o["cls"], o["s"]
    x1, y1, x2, y2 = g["box"]
    L, Hh = g["L"], g["H"]
    r = (0.2 if cls != "motorcycle" else 0.32) * Hh
    if cls == "car":
        cv.shape("polygon", [x1 + 0.22 * L, y1 + 0.45 * Hh, x1 + 0.32 * L, y1, x2 - 0.3 * L, y1,
                             x2 - 0.18 * L, y1 + 0.45 * Hh], cls)
        cv.shape("polygon", [x1 + 0.3 * L, y1 + 0.42 * Hh, x1 + 0.36 * L, y1 + 0.1 * Hh,
                             x2 - 0.34 * L, y1 + 0.1 * Hh, x2 - 0.25 * L, y1 + 0.42 * Hh],
                 (170, 220, 250))
        cv.shape("rectangle", [x1, y1 + 0.42 * Hh, x2, y2 - 0.55 * r], cls)
    elif cls == "bus":
        cv.shape("rectangle", [x1, y1, x2, y2 - 0.6 * r], cls)
        n = 5
        for k in range(n):
            wx = x1 + (0.06 + k * 0.18) * L
            cv.shape("rectangle", [wx, y1 + 0.12 * Hh, wx + 0.13 * L, y1 + 0.42 * Hh],
                     (170, 220, 250))
        cv.shape("line", [x1, y1 + 0.6 * Hh, x2, y1 + 0.6 * Hh], (60, 60, 60), max(2, 0.05 * Hh))
    elif cls == "truck":
        cv.shape("rectangle", [x1, y1, x1 + 0.68 * L, y2 - 0.6 * r], (235, 235, 235))
        cv.shape("rectangle", [x1 + 0.7 * L, y1 + 0.3 * Hh, x2, y2 - 0.6 * r], cls)
        cv.shape("rectangle", [x1 + 0.78 * L, y1 + 0.36 * Hh, x2 - 0.05 * L, y1 + 0.55 * Hh],
                 (170, 220, 250))
        cv.shape("line", [x1, y1 + 0.45 * Hh, x1 + 0.68 * L, y1 + 0.45 * Hh],
                 cls, max(2, 0.12 * Hh))
    else:  # motorcycle
        cv.shape("polygon", [x1 + 0.2 * L, y2 - r, x1 + 0.35 * L, y1 + 0.3 * Hh, x2 - 0.3 * L,
                             y1 + 0.3 * Hh, x2 - 0.2 * L, y2 - r], cls)
        cv.shape("ellipse", [x1 + 0.4 * L, y1 + 0.15 * Hh, x2 - 0.35 * L, y1 + 0.45 * Hh],
                 (255, 120, 0))
        cv.shape("line", [x2 - 0.25 * L, y1 + 0.35 * Hh, x2 - 0.15 * L, y1], (160, 160, 160), 2)
    for wx in ((x1 + r * 1.1, x2 - r * 1.1) if cls != "motorcycle" else (x1 + r, x2 - r)):
        cv.shape("ellipse", [wx - r, y2 - 2 * r, wx + r, y2], (15, 15, 15))
        cv.shape("ellipse", [wx - 0.4 * r, y2 - 1.4 * r, wx + 0.4 * r, y2 - 0.6 * r],
                 (170, 170, 170))


def _airplane(cv: Canvas, o):
    s, x, y = o["s"], o["x"], o["base"]
    d = o.get("dir", 1)
    L, Hh = 70 * s, 14 * s
    cv.shape("polygon", [x - 0.1 * L, y - Hh / 2, x + d * 0.05 * L, y - Hh / 2 - 0.35 * L,
                         x + d * 0.15 * L, y - Hh / 2], (200, 200, 210))
    cv.shape("ellipse", [x - L / 2, y - Hh, x + L / 2, y], "airplane")
    tx = x - d * 0.45 * L
    cv.shape("polygon", [tx, y - Hh / 2, tx - d * 0.06 * L, y - Hh * 1.8, tx + d * 0.08 * L,
                         y - Hh / 2], (30, 60, 160))
    cv.shape("line", [x - 0.35 * L, y - Hh * 0.55, x + 0.35 * L, y - Hh * 0.55],
             (30, 60, 160), max(2, 0.15 * Hh))


def _furniture(cv: Canvas, o):
    g = furniture_geom(o)
    cls, s, base = o["cls"], o["s"], o["base"]
    x1, x2, top, high = g["x1"], g["x2"], g["top"], g["high"]
    d = o.get("dir", 1)
    legw = max(2, 3 * s)
    if cls == "bench":
        for lx in (x1 + 0.1 * g["w"], x2 - 0.1 * g["w"]):
            cv.shape("line", [lx, top, lx, base], DARK, legw)
        cv.shape("rectangle", [x1, high, x2, high + 0.35 * (top - high)], "bench")
        cv.shape("rectangle", [x1 - 2 * s, top - 4 * s, x2 + 2 * s, top + 1 * s], "bench")
    elif cls == "chair":
        bx = x1 if d > 0 else x2  # back away from the facing side
        cv.shape("line", [x1 + 2, top, x1 + 2, base], (80, 20, 100), legw)
        cv.shape("line", [x2 - 2, top, x2 - 2, base], (80, 20, 100), legw)
        cv.shape("rectangle", [min(bx, bx + d * 5 * s), high, max(bx, bx + d * 5 * s), top],
                 "chair")
        cv.shape("rectangle", [x1, top - 4 * s, x2, top + 1 * s], "chair")
    elif cls == "bed":
        hb = x1 if d > 0 else x2 - 6 * s
        cv.shape("rectangle", [hb, high - 6 * s, hb + 6 * s, base], (100, 60, 30))
        cv.shape("rectangle", [x1, top + 6 * s, x2, base - 4 * s], (100, 60, 30))
        cv.shape("rectangle", [x1, top, x2, top + 8 * s], "bed")
        px = x1 + 7 * s if d > 0 else x2 - 21 * s
        cv.shape("ellipse", [px, top - 5 * s, px + 14 * s, top + 2 * s], (255, 255, 255))
    else:  # table
        for lx in (x1 + 0.12 * g["w"], x2 - 0.12 * g["w"]):
            cv.shape("line", [lx, top, lx, base], (150, 110, 60), max(2, 4 * s))
        cv.shape("rectangle", [x1, top, x2, top + 6 * s], "table")


def _item(cv: Canvas, o):
    """Small objects drawn around (x, base) = bottom centre, size scaled by s (small items
    are drawn somewhat larger than life so that a small detector can find them)."""
    cls, x, b = o["cls"], o["x"], o["base"]
    s = item_scale(o)
    d = o.get("dir", 1)
    if cls == "cup":
        w, h = 12 * s, 14 * s
        cv.shape("ellipse", [x + w / 2 - 3 * s, b - h * 0.8, x + w / 2 + 5 * s, b - h * 0.3], "cup")
        cv.shape("polygon", [x - w / 2, b - h, x + w / 2, b - h, x + w * 0.35, b, x - w * 0.35, b],
                 "cup")
    elif cls == "bottle":
        w, h = 12 * s, 26 * s
        cv.shape("rectangle", [x - w / 2, b - 0.65 * h, x + w / 2, b], "bottle")
        cv.shape("rectangle", [x - w / 5, b - h, x + w / 5, b - 0.6 * h], "bottle")
        cv.shape("rectangle", [x - w / 2, b - 0.45 * h, x + w / 2, b - 0.25 * h],
                 (245, 245, 200), in_mask=False)
    elif cls == "book":
        w, h = 22 * s, 12 * s
        cv.shape("rectangle", [x - w / 2, b - h, x + w / 2, b], "book")
        cv.shape("rectangle", [x - w / 2 + 2, b - h * 0.55, x + w / 2, b - h * 0.3],
                 (255, 255, 255))
    elif cls == "vase":
        w, h = 16 * s, 22 * s
        cv.shape("rectangle", [x - w / 4, b - h, x + w / 4, b - 0.6 * h], "vase")
        cv.shape("ellipse", [x - w / 2, b - 0.75 * h, x + w / 2, b], "vase")
    elif cls == "flower":  # stem + petals; base = bottom of the stem
        h = 18 * s
        cv.shape("line", [x, b - 0.55 * h, x, b], (40, 150, 40), max(2, 2 * s))
        cv.shape("line", [x, b - 0.35 * h, x + 5 * s, b - 0.5 * h], (40, 150, 40), max(2, 2 * s))
        for dx, dy in ((-0.2, -0.75), (0.2, -0.75), (0, -0.95), (0, -0.55)):
            cx, cy = x + dx * h, b + dy * h
            cv.shape("ellipse", [cx - 0.17 * h, cy - 0.17 * h, cx + 0.17 * h, cy + 0.17 * h],
                     "flower")
        cv.shape("ellipse", [x - 0.1 * h, b - 0.85 * h, x + 0.1 * h, b - 0.65 * h], (255, 230, 0))
    elif cls == "plate":
        w, h = 30 * s, 10 * s
        cv.shape("ellipse", [x - w / 2, b - h, x + w / 2, b], (205, 205, 215))
        cv.shape("ellipse", [x - w / 2 + 2, b - h, x + w / 2 - 2, b - 2], "plate")
    elif cls == "pizza":
        w, h = 24 * s, 10 * s
        if o.get("pose") == "slice":
            cv.shape("polygon", [x - w / 3, b - h * 1.3, x + w / 3, b - h * 1.3, x, b + 0.4 * h],
                     "pizza")
        else:
            cv.shape("ellipse", [x - w / 2, b - h, x + w / 2, b], (200, 130, 40))
            cv.shape("ellipse", [x - w / 2 + 2, b - h + 1, x + w / 2 - 2, b - 1], "pizza")
    elif cls == "umbrella":  # base = handle bottom
        w = 40 * s
        top = b - 30 * s
        cv.shape("line", [x, top + 6 * s, x, b], DARK, max(2, 2 * s))
        cv.shape("pieslice", [x - w / 2, top, x + w / 2, top + 0.7 * w, 180, 360], "umbrella")
    elif cls == "bag":
        w, h = 18 * s, 16 * s
        cv.shape("line", [x - w / 4, b - h, x - w / 4, b - h - 5 * s, x + w / 4, b - h - 5 * s,
                          x + w / 4, b - h], DARK, 2)
        cv.shape("rectangle", [x - w / 2, b - h, x + w / 2, b], "bag")
        cv.shape("rectangle", [x - w / 2, b - h, x + w / 2, b - 0.65 * h], (10, 90, 90))
    elif cls == "kite":  # base = kite centre
        w, h = 22 * s, 28 * s
        cv.shape("polygon", [x, b - h / 2, x + w / 2, b - h * 0.15, x, b + h / 2, x - w / 2,
                             b - h * 0.15], "kite")
        cv.shape("line", [x, b + h / 2, x - 3 * s, b + h / 2 + 6 * s, x + 3 * s,
                          b + h / 2 + 10 * s], (255, 0, 0), 2)
        if "string_to" in o:
            cv.shape("line", [x, b + h / 2, *o["string_to"]], (250, 250, 250), 1, in_mask=False)
    elif cls == "surfboard":  # carried upright
        w, h = 14 * s, 52 * s
        cv.shape("ellipse", [x - w / 2, b - h, x + w / 2, b], "surfboard")
        cv.shape("line", [x, b - h + 4, x, b - 4], (255, 255, 255), max(1, 2 * s))
    elif cls == "skateboard":
        w, h = 34 * s, 8 * s
        if o.get("pose") == "carry":  # upright at the side
            cv.shape("rectangle", [x - h / 2, b - w, x + h / 2, b], "skateboard")
            for wy in (b - 0.8 * w, b - 0.2 * w):
                cv.shape("ellipse", [x + h / 2, wy - 2.5 * s, x + h / 2 + 4 * s, wy + 2.5 * s],
                         (240, 240, 240))
        else:
            cv.shape("rectangle", [x - w / 2, b - h, x + w / 2, b - 0.45 * h], "skateboard")
            for wx in (x - 0.33 * w, x + 0.33 * w):
                cv.shape("ellipse", [wx - 2.5 * s, b - 0.6 * h, wx + 2.5 * s, b], (240, 240, 240))
    elif cls == "hat":  # base = head top
        w = 22 * s
        cv.shape("rectangle", [x - w / 2, b - 2.5 * s, x + w / 2, b + 1.5 * s], "hat")
        cv.shape("rectangle", [x - w / 3, b - 11 * s, x + w / 3, b], "hat")
        cv.shape("rectangle", [x - w / 3, b - 4.5 * s, x + w / 3, b - 2.5 * s],
                 (220, 40, 40), in_mask=False)
    elif cls == "helmet":
        w = 20 * s
        cv.shape("pieslice", [x - w / 2, b - 10 * s, x + w / 2, b + 10 * s, 180, 360], "helmet")
        cv.shape("rectangle", [x - w / 2 - 1, b - 1 * s, x + w / 2 + 1, b + 1.5 * s], (20, 20, 20))
    elif cls == "tie":  # base = knot top
        w, h = 10 * s, 20 * s
        cv.shape("polygon", [x - w / 3, b, x + w / 3, b, x + w / 2, b + 0.85 * h, x, b + h,
                             x - w / 2, b + 0.85 * h], "tie")
    elif cls == "window":  # base = bottom centre
        w, h = o["w"], o["h"]
        cv.shape("rectangle", [x - w / 2, b - h, x + w / 2, b], (240, 240, 240))
        cv.shape("rectangle", [x - w / 2 + 2, b - h + 2, x + w / 2 - 2, b - 2], "window")
        cv.shape("line", [x, b - h, x, b], (240, 240, 240), 2)
        cv.shape("line", [x - w / 2, b - h / 2, x + w / 2, b - h / 2], (240, 240, 240), 2)
    elif cls == "clock":  # base = centre
        r = 11 * s
        cv.shape("ellipse", [x - r, b - r, x + r, b + r], (30, 30, 30))
        cv.shape("ellipse", [x - r + 2, b - r + 2, x + r - 2, b + r - 2], "clock")
        cv.shape("line", [x, b, x, b - 0.7 * r, ], (0, 0, 0), 2)
        cv.shape("line", [x, b, x + 0.5 * r, b + 0.2 * r], (0, 0, 0), 2)
    elif cls == "sign":  # base = centre
        w = 22 * s
        if o.get("pose") == "hang":  # two chains up to the pole's arm
            for cx in (x - w / 3, x + w / 3):
                cv.shape("line", [cx, b - w / 2, cx, b - w / 2 - 9 * s], DARK, 1)
        cv.shape("rectangle", [x - w / 2, b - w / 2, x + w / 2, b + w / 2], (255, 255, 255))
        cv.shape("rectangle", [x - w / 2 + 2, b - w / 2 + 2, x + w / 2 - 2, b + w / 2 - 2], "sign")
        cv.shape("polygon", [x - w / 4, b - 2, x + w / 8, b - 2, x + w / 8, b - w / 5, x + w / 3, b,
                             x + w / 8, b + w / 5, x + w / 8, b + 2, x - w / 4, b + 2],
                 (255, 255, 255))
    elif cls == "flag":  # base = top left at the pole
        w, h = 26 * s, 17 * s
        cv.shape("polygon", [x, b, x + d * w, b + 2 * s, x + d * w, b + h, x, b + h - 2 * s],
                 "flag")
    elif cls == "plant":
        w, h = 26 * s, 26 * s
        cv.shape("rectangle", [x - w / 4, b - 0.3 * h, x + w / 4, b], (160, 80, 40))
        for k in range(5):
            a = np.pi * (0.15 + 0.175 * k)
            tip = (x - np.cos(a) * w / 2, b - 0.3 * h - np.sin(a) * 0.7 * h)
            cv.shape("polygon", [x - 3 * s, b - 0.3 * h, tip[0], tip[1], x + 3 * s, b - 0.3 * h],
                     "plant")
    else:
        raise ValueError(f"no drawing for class {cls!r}")


def _tree(cv: Canvas, o):
    s, x, b = o["s"], o["x"], o["base"]
    cv.shape("rectangle", [x - 5 * s, b - 50 * s, x + 5 * s, b], (110, 70, 30))
    r = 26 * s
    cy = b - 50 * s - 0.6 * r
    cv.shape("ellipse", [x - r, cy - r, x + r, cy + r], "tree")


def _building(cv: Canvas, o):
    cv.shape("rectangle", [o["x"] - o["w"] / 2, o["base"] - o["h"], o["x"] + o["w"] / 2, o["base"]],
             "building")
    cv.shape("rectangle", [o["x"] - o["w"] / 2 - 2, o["base"] - o["h"] - 4,
                           o["x"] + o["w"] / 2 + 2, o["base"] - o["h"]], (90, 60, 50))


def _pole(cv: Canvas, o):
    s, x, b = o["s"], o["x"], o["base"]
    w = max(8.0, 8 * s)
    cv.shape("rectangle", [x - w / 2, b - o["h"], x + w / 2, b], "pole")
    if o.get("arm"):
        d = o.get("dir", 1)
        y = b - o["h"] + 3
        cv.shape("line", [x, y, x + d * 24 * s, y], (110, 110, 120), max(3, 3 * s))


def _surface(cv: Canvas, o):
    cls = o["cls"]
    y1, y2 = o["y1"], o["y2"]
    cv.shape("rectangle", [-1, y1, CANVAS + 1, y2], cls)
    if cls == "street":
        y = (y1 + y2) / 2
        for k in range(0, CANVAS, 24):
            cv.shape("line", [k, y, k + 12, y], (250, 220, 0), 3)


DRAW = {"bird": _bird, "airplane": _airplane, "tree": _tree, "building": _building, "pole": _pole}


for _c in ("man", "woman", "boy", "girl"):
    DRAW[_c] = _person


for _c in ANIMAL:
    DRAW[_c] = _animal


for _c in ("car", "bus", "truck", "motorcycle"):
    DRAW[_c] = _vehicle


for _c in ("bench", "chair", "bed", "table"):
    DRAW[_c] = _furniture


for _c in ("street", "sidewalk", "snow", "beach"):
    DRAW[_c] = _surface


def render(objects: List[dict], width: int, height: int, horizon: int, rng: np.random.Generator,
           want_masks: bool = False):
    """Draws ``objects`` in increasing ``z`` order (painter's algorithm).

    Returns:
        image (PIL RGB, width x height), boxes (float [N, 4] xyxy of each object's full
        shape, pixel edges), full areas (int [N] pixels of each full shape), visible masks
        (bool [N, H, W]: not hidden by nearer objects; only with ``want_masks``).
    """
    cv = Canvas()
    sky = np.array([150, 200, 240]) + rng.integers(-15, 16, 3)
    ground = np.array([105, 165, 75]) + rng.integers(-15, 16, 3)
    cv.draw.rectangle([0, 0, CANVAS, horizon], fill=tuple(int(v) for v in sky))
    cv.draw.rectangle([0, horizon, CANVAS, CANVAS], fill=tuple(int(v) for v in ground))
    n = len(objects)
    boxes = np.zeros((n, 4), np.float32)
    areas = np.zeros(n, np.int64)
    order = sorted(range(n), key=lambda i: objects[i]["z"])
    full = [None] * n
    for i in order:
        o = objects[i]
        cv.begin()
        DRAW.get(o["cls"], _item)(cv, o)
        m = cv.end()[:height, :width]
        full[i] = m
        areas[i] = m.sum()
        ys, xs = np.nonzero(m.any(1))[0], np.nonzero(m.any(0))[0]
        if len(ys):
            boxes[i] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
    img = cv.img.crop((0, 0, width, height))
    masks = None
    if want_masks:
        masks = np.zeros((n, height, width), bool)
        covered = np.zeros((height, width), bool)
        for i in reversed(order):  # front to back
            masks[i] = full[i] & ~covered
            covered |= full[i]
    return img, boxes, areas, masks
