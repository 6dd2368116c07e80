"""SGB's label NMS, batched: a hand case and SGB's per-image loop (``obj_prediction_nms``,
written here in numpy on its own) on random images."""
import numpy as np
import torch

from pyg_sgg.nn.box_geometry import box_iou
from pyg_sgg.nn.label_nms import nms_labels


def test_hand_case_duplicate_boxes_get_different_labels():
    probs = torch.tensor([[0.0, 0.7, 0.3], [0.0, 0.6, 0.4], [0.0, 0.9, 0.1]])
    boxes = torch.tensor([[0., 0., 10., 10.], [0., 0., 10., 10.], [50., 50., 60., 60.]])
    batch = torch.zeros(3, dtype=torch.long)
    # box 2 first (0.9, class 1, overlaps nothing), then box 0 (0.7, class 1), which zeroes
    # class 1 in its duplicate box 1: box 1 takes class 2
    assert nms_labels(probs, boxes, batch, 0.5).tolist() == [1, 2, 1]
    assert nms_labels(probs, boxes, batch, 1.01).tolist() == [1, 1, 1]  # nothing overlaps


def _sgb_loop(probs: np.ndarray, overlap: np.ndarray) -> np.ndarray:
    p = probs.copy()
    p[:, 0] = 0
    label = np.zeros(len(p), dtype=np.int64)
    for _ in range(len(p)):
        box, cls = np.unravel_index(p.argmax(), p.shape)
        if label[box] == 0:
            label[box] = cls
        p[overlap[box], cls] = 0.0
        p[box] = -1.0
    return label


def test_matches_the_per_image_loop_on_random_images():
    g = torch.Generator().manual_seed(0)
    for _ in range(100):
        counts = torch.randint(0, 7, (4,), generator=g)
        n = int(counts.sum())
        probs = torch.softmax(torch.randn(n, 5, generator=g) * 2, 1)
        xy = torch.rand(n, 2, generator=g) * 50
        boxes = torch.cat([xy, xy + 5 + torch.rand(n, 2, generator=g) * 40], 1)
        batch = torch.repeat_interleave(torch.arange(4), counts)
        got = nms_labels(probs, boxes, batch, 0.3, plus_one=True).numpy()
        want = []
        for b in range(4):
            bx = boxes[batch == b]
            overlap = (box_iou(bx[:, None], bx[None], True) >= 0.3).numpy()
            want.append(_sgb_loop(probs[batch == b].numpy(), overlap))
        assert np.array_equal(got, np.concatenate(want))
    assert nms_labels(torch.zeros(0, 5), torch.zeros(0, 4), torch.zeros(0).long()).numel() == 0
