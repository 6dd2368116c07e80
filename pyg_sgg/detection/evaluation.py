"""Detector evaluation with pycocotools' COCOeval: box AP on a VG-format split (VG head) and
mask AP on a COCO-format split (COCO box + mask heads).

Ground truth is rebuilt from the scene-graph dataset (``boxes``, ``labels`` and, for masks,
``masks [N, H, W]``), so both loaders are scored the same way; category ids are the
contiguous labels ``1..C``.
"""
import contextlib
import io
from typing import Dict, List, Optional

import numpy as np
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from pyg_sgg.detection.joint_mask_rcnn import JointMaskRCNN


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    out = boxes.astype(np.float64).copy()
    out[:, 2:] -= out[:, :2]
    return out


def masks_to_rle(masks: np.ndarray) -> List[Dict]:
    """``[N, H, W]`` uint8 -> list of compressed RLEs (json-safe counts)."""
    if len(masks) == 0:
        return []
    rles = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
    for r in rles:
        r["counts"] = r["counts"].decode("ascii")
    return rles


def coco_from_dicts(images, annotations, num_classes) -> COCO:
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations,
                    "categories": [{"id": c, "name": str(c)} for c in range(1, num_classes + 1)]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def run_cocoeval(gt: COCO, dets: List[Dict], iou_type: str) -> Dict[str, float]:
    if not dets:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = ev.stats
    return {"AP": float(s[0]) * 100, "AP50": float(s[1]) * 100, "AP75": float(s[2]) * 100}


@torch.no_grad()
def evaluate_detector(model: JointMaskRCNN, dataset, *, dataset_type: str = "vg",
                      batch_size: int = 4, max_images: Optional[int] = None,
                      progress: bool = False) -> Dict[str, float]:
    """COCO-style AP (in %) of ``model`` on ``dataset``.

    Args:
        model: the detector (put in eval mode here).
        dataset: scene-graph dataset with ``load_image``; COCO ones need ``masks``.
        dataset_type: ``"vg"`` -> ``{"AP", "AP50", "AP75"}`` of the VG box head;
            ``"coco"`` -> ``bbox/AP...`` of the COCO box head and ``segm/AP...`` of its
            masks.
        max_images: evaluate the first ``max_images`` only.

    Returns:
        dict of floats in percent.
    """
    was_training = model.training
    model.eval()
    n = len(dataset) if max_images is None else min(len(dataset), int(max_images))
    masks_on = dataset_type == "coco"
    num_classes = model.num_mask_classes if masks_on else model.num_classes
    images, gts, box_dets, seg_dets = [], [], [], []
    ann_id = 1
    it = range(0, n, batch_size)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=f"eval {dataset_type}", dynamic_ncols=True, disable=None)
    for start in it:
        idx = list(range(start, min(n, start + batch_size)))
        graphs = [dataset[i] for i in idx]
        imgs = [dataset.load_image(i) for i in idx]
        outs = model(imgs, dataset=dataset_type)
        for i, g, img, out in zip(idx, graphs, imgs, outs):
            h, w = img.shape[-2:]
            images.append({"id": i, "height": int(h), "width": int(w)})
            gb = xyxy_to_xywh(g.boxes.numpy().reshape(-1, 4))
            gl = g.labels.numpy()
            grle = masks_to_rle(g.masks.numpy()) if masks_on else [None] * len(gl)
            for b, lab, r in zip(gb, gl, grle):
                ann = {"id": ann_id, "image_id": i, "category_id": int(lab),
                       "bbox": b.tolist(), "area": float(b[2] * b[3]), "iscrowd": 0}
                if r is not None:
                    ann["segmentation"] = r
                    ann["area"] = float(mask_utils.area(r))
                gts.append(ann)
                ann_id += 1
            db = xyxy_to_xywh(out["boxes"].numpy().reshape(-1, 4))
            ds = out["scores"].numpy()
            dl = out["labels"].numpy()
            for b, s, lab in zip(db, ds, dl):
                box_dets.append({"image_id": i, "category_id": int(lab), "bbox": b.tolist(),
                                 "score": float(s)})
            if masks_on:
                binary = (out["masks"][:, 0] > 0.5).to(torch.uint8).numpy()
                for r, s, lab in zip(masks_to_rle(binary), ds, dl):
                    seg_dets.append({"image_id": i, "category_id": int(lab),
                                     "segmentation": r, "score": float(s)})
    model.train(was_training)
    gt = coco_from_dicts(images, gts, num_classes)
    if not masks_on:
        return run_cocoeval(gt, box_dets, "bbox")
    res = {f"bbox/{k}": v for k, v in run_cocoeval(gt, box_dets, "bbox").items()}
    res.update({f"segm/{k}": v for k, v in run_cocoeval(gt, seg_dets, "segm").items()})
    return res
