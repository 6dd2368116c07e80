"""Tiny hand-made VG150 and COCO datasets written with the project's writers."""
import numpy as np
import pytest
from PIL import Image

from pyg_sgg.data.vg_writer import write_vg150

OBJ = ["__background__", "man", "horse", "hat", "table"]
PRED = ["__background__", "on", "near", "has"]


def vg_images():
    """Seven images covering the SGB cases (see comments); ids 1..7."""
    def im(iid, w, h, boxes, labels, rels, split):
        return dict(image_id=iid, width=w, height=h, file_name=f"{iid}.jpg",
                    boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
                    labels=np.asarray(labels, dtype=np.int64),
                    relations=np.asarray(rels, dtype=np.int64).reshape(-1, 3), split=split)
    return [
        # train, overlapping relations, a duplicated pair (0, 1) with predicates 1 and 2
        im(1, 200, 150, [[10, 10, 80, 100], [50, 60, 150, 140], [120.5, 5, 190, 40.25]],
           [1, 2, 3], [[0, 1, 1], [0, 1, 2], [1, 0, 3]], 0),
        # train, no relations (filter_empty_rels)
        im(2, 120, 160, [[0, 0, 50, 50]], [4], [], 0),
        # train, only a non-overlapping relation (filter_non_overlap drops the image)
        im(3, 256, 128, [[0, 0, 40, 40], [200, 80, 250, 120]], [1, 4], [[0, 1, 2]], 0),
        # train, one overlapping and one non-overlapping relation
        im(4, 180, 180, [[0, 0, 90, 90], [60, 60, 170, 170], [150, 0, 178, 20]],
           [1, 2, 3], [[0, 1, 1], [0, 2, 2]], 0),
        # train, no boxes at all (always dropped)
        im(5, 100, 100, [], [], [], 0),
        # test: duplicated pair, kept as annotated; a box reaching the right/bottom border
        im(6, 160, 200, [[5, 5, 100, 120], [30, 40, 160, 200]], [2, 1],
           [[1, 0, 1], [1, 0, 2], [0, 1, 3]], 2),
        # test, no relations
        im(7, 140, 140, [[10, 10, 60, 60], [20, 20, 30, 30]], [3, 3], [], 2),
    ]


def write_images(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for k, im in enumerate(images):
        arr = np.full((im["height"], im["width"], 3), 40 * k % 255, dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"{im['image_id']}.jpg")


@pytest.fixture
def vg_root(tmp_path):
    images = vg_images()
    write_vg150(tmp_path, images, OBJ, PRED)
    write_images(tmp_path / "images", images)
    return tmp_path


@pytest.fixture
def vg_records():
    """``(images, object_classes, predicate_classes)`` written by :func:`vg_root`."""
    return vg_images(), OBJ, PRED
