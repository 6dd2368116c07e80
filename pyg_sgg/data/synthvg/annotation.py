"""Relations decided by the drawn scene's geometry (near, in front of, behind, above) and boxes
from masks."""
from typing import List

import numpy as np


def spatial_facts(scene, boxes, rng, cfg) -> List[tuple]:
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


def mask_boxes(masks: np.ndarray) -> np.ndarray:
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
