"""Vocabulary of SynthVG / SynthCOCO: VG150 class and predicate names, coarse/fine families,
the coarser COCO vocabulary and the per-class look (colour, texture) used by the renderer."""

# Object classes (names from VG150's 150-class vocabulary), sorted like VG150's dicts file.
OBJECT_CLASSES = sorted([
    # people
    "man", "woman", "boy", "girl",
    # animals
    "dog", "cat", "horse", "elephant", "giraffe", "zebra", "cow", "sheep", "bird",
    # vehicles
    "car", "bus", "truck", "motorcycle", "airplane",
    # furniture
    "bench", "chair", "bed", "table",
    # table-top items
    "cup", "bottle", "book", "vase", "flower", "plate", "pizza",
    # held / carried items
    "umbrella", "bag", "kite", "surfboard", "skateboard",
    # worn items
    "hat", "helmet", "tie",
    # scene parts
    "tree", "building", "window", "pole", "sign", "flag", "clock", "plant",
    # ground surfaces (bands across the image)
    "street", "sidewalk", "snow", "beach",
])

PERSONS = ("man", "woman", "boy", "girl")
QUADRUPEDS = ("dog", "cat", "horse", "elephant", "giraffe", "zebra", "cow", "sheep")
VEHICLES = ("car", "bus", "truck", "motorcycle")
SURFACES = ("street", "sidewalk", "snow", "beach")

# Predicates (VG150 names). Each is decided by the generated scene; see synthetic.py.
PREDICATES = sorted([
    "on", "standing on", "sitting on", "parked on", "lying on", "walking on", "mounted on",
    "near", "in front of", "behind",
    "has", "holding", "wearing", "carrying",
    "riding", "eating", "under", "above", "in", "hanging from", "attached to", "looking at",
])

# Fine predicate -> coarse parent reported with probability ``coarse_prob`` (reporting bias).
COARSE_PARENT = {
    "standing on": "on", "sitting on": "on", "parked on": "on", "lying on": "on",
    "walking on": "on", "mounted on": "on",
    "in front of": "near", "behind": "near",
    "holding": "has", "wearing": "has", "carrying": "has",
}

# SynthVG class -> COCO class name (None: no COCO class; not annotated in SynthCOCO).
COCO_NAME = {
    "man": "person", "woman": "person", "boy": "person", "girl": "person",
    "dog": "dog", "cat": "cat", "horse": "horse", "elephant": "elephant",
    "giraffe": "giraffe", "zebra": "zebra", "cow": "cow", "sheep": "sheep", "bird": "bird",
    "car": "car", "bus": "bus", "truck": "truck", "motorcycle": "motorcycle",
    "airplane": "airplane", "bench": "bench", "chair": "chair", "bed": "bed",
    "table": "dining table", "cup": "cup", "bottle": "bottle", "book": "book", "vase": "vase",
    "pizza": "pizza", "umbrella": "umbrella", "bag": "handbag", "kite": "kite",
    "surfboard": "surfboard", "skateboard": "skateboard", "tie": "tie", "clock": "clock",
    "plant": "potted plant", "sign": "stop sign",
}
# COCO names in the official COCO category order (ids written by the COCO writer are 1..K).
_COCO_ORDER = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
]
COCO_CLASSES = [n for n in _COCO_ORDER if n in set(COCO_NAME.values())]

# Look of each class: (main colour, texture, texture colour). Textures: solid, hstripe,
# vstripe, dstripe, dots, check, spots. Shapes differ per class in rendering.py.
STYLE = {
    "man": ((35, 70, 200), "solid", None),
    "woman": ((205, 30, 45), "dots", (255, 255, 255)),
    "boy": ((40, 165, 60), "hstripe", (250, 250, 120)),
    "girl": ((225, 70, 205), "vstripe", (255, 200, 240)),
    "dog": ((150, 90, 40), "solid", None),
    "cat": ((245, 140, 30), "hstripe", (150, 70, 10)),
    "horse": ((95, 50, 20), "solid", None),
    "elephant": ((135, 135, 145), "solid", None),
    "giraffe": ((235, 185, 60), "spots", (140, 80, 20)),
    "zebra": ((250, 250, 250), "vstripe", (20, 20, 20)),
    "cow": ((255, 255, 255), "spots", (30, 30, 30)),
    "sheep": ((235, 230, 200), "dots", (190, 185, 160)),
    "bird": ((25, 25, 30), "solid", None),
    "car": ((225, 30, 30), "solid", None),
    "bus": ((250, 205, 0), "solid", None),
    "truck": ((30, 110, 60), "solid", None),
    "motorcycle": ((20, 20, 20), "solid", None),
    "airplane": ((245, 245, 250), "solid", None),
    "bench": ((140, 85, 40), "hstripe", (90, 50, 20)),
    "chair": ((120, 40, 150), "solid", None),
    "bed": ((70, 110, 220), "check", (240, 240, 255)),
    "table": ((205, 160, 100), "hstripe", (170, 120, 70)),
    "cup": ((120, 200, 255), "solid", None),
    "bottle": ((20, 140, 40), "solid", None),
    "book": ((240, 100, 20), "solid", None),
    "vase": ((60, 40, 180), "dstripe", (150, 140, 255)),
    "flower": ((255, 90, 160), "solid", None),
    "plate": ((250, 250, 250), "solid", None),
    "pizza": ((245, 200, 80), "dots", (200, 30, 30)),
    "umbrella": ((240, 220, 0), "vstripe", (150, 0, 180)),
    "bag": ((20, 130, 130), "solid", None),
    "kite": ((255, 110, 0), "check", (255, 230, 40)),
    "surfboard": ((0, 180, 230), "solid", None),
    "skateboard": ((230, 40, 120), "solid", None),
    "hat": ((110, 55, 20), "solid", None),
    "helmet": ((255, 215, 0), "hstripe", (20, 20, 20)),
    "tie": ((255, 130, 0), "dstripe", (120, 0, 0)),
    "tree": ((30, 110, 30), "dots", (70, 160, 50)),
    "building": ((175, 95, 75), "hstripe", (140, 70, 55)),
    "window": ((190, 230, 255), "solid", None),
    "pole": ((110, 110, 120), "solid", None),
    "sign": ((0, 90, 210), "solid", None),
    "flag": ((230, 0, 0), "hstripe", (255, 255, 255)),
    "clock": ((255, 255, 240), "solid", None),
    "plant": ((110, 210, 50), "dstripe", (40, 120, 20)),
    "street": ((85, 85, 90), "solid", None),
    "sidewalk": ((195, 190, 180), "check", (160, 155, 145)),
    "snow": ((245, 248, 255), "dots", (200, 215, 240)),
    "beach": ((232, 205, 140), "dots", (190, 160, 100)),
}

assert set(STYLE) == set(OBJECT_CLASSES)
assert set(COCO_NAME) <= set(OBJECT_CLASSES)
