"""Mask AP of the frozen and the refined masks on COCO val (Seg-SG's Table 2 shape, on the
ground-truth boxes and labels): each object's 28 × 28 mask of its class, pasted into its box,
binarised at 0.5, scored by pycocotools' COCOeval (``segm``) against the annotated masks."""
from typing import Callable, Dict

import torch
from pycocotools import mask as mask_utils

from ..detection.evaluation import coco_from_dicts, masks_to_rle, run_cocoeval
from ..evaluation.object_masks import paste_masks

__all__ = ["refined_mask_ap"]


@torch.no_grad()
def refined_mask_ap(model, samples, collate_fn: Callable, batch_size: int = 8
                    ) -> Dict[str, float]:
    """``{"frozen/AP", "frozen/AP50", "frozen/AP75", "refined/AP", ...}`` in percent.

    Args:
        model: a :class:`~pyg_sgg.models.SceneGraphModel` with a refinement head.
        samples: :class:`~pyg_sgg.engine.segmentation_stream.COCOSegmentationSamples` of
            the evaluation split (its ``features.dataset`` holds the annotated masks).
        collate_fn: list of scene graphs -> batch.
    """
    was = model.training
    model.eval()
    raw = samples.features.dataset
    K = model.refinement.num_mask_classes
    images, gts, dets = [], [], {"frozen": [], "refined": []}
    ann_id = 1
    for start in range(0, len(samples), batch_size):
        idx = list(range(start, min(len(samples), start + batch_size)))
        batch = collate_fn([samples[i] for i in idx])
        refined = model.refined_mask_logits(batch)
        rows = torch.arange(batch.boxes.size(0))
        channel = batch.labels.long() - 1
        probs = {"frozen": torch.sigmoid(batch.mask_logits[rows, channel].float()),
                 "refined": torch.sigmoid(refined[rows, channel].float())}
        ptr = batch.ptr.tolist()
        for j, i in enumerate(idx):
            g = raw[i]
            h, w = (int(v) for v in g.image_size.view(-1))
            images.append({"id": i, "height": h, "width": w})
            sl = slice(ptr[j], ptr[j + 1])
            boxes = batch.boxes[sl].float()
            labels = batch.labels[sl].long().tolist()
            for r, lab, b in zip(masks_to_rle(g.masks.numpy()), labels, boxes.tolist()):
                gts.append({"id": ann_id, "image_id": i, "category_id": lab, "iscrowd": 0,
                            "segmentation": r, "area": float(mask_utils.area(r)),
                            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})
                ann_id += 1
            for kind, p in probs.items():
                if not boxes.size(0):
                    continue
                for r, lab in zip(masks_to_rle(paste_masks(p[sl], boxes, (h, w))), labels):
                    dets[kind].append({"image_id": i, "category_id": lab, "segmentation": r,
                                       "score": 1.0})
    model.train(was)
    gt = coco_from_dicts(images, gts, K)
    out: Dict[str, float] = {}
    for kind, d in dets.items():
        for k, v in run_cocoeval(gt, d, "segm").items():
            out[f"{kind}/{k}"] = float(v)
    return out

