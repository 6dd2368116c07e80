"""Scene graphs for your own images: :class:`Predictor` runs a trained pyg_sgg model on images
(SGDet) or on images with your boxes (SGCls) and labels (PredCls).

    from pyg_sgg import Predictor
    predictor = Predictor.from_checkpoint("runs/sgdet_ce/model_final.pth")
    graph = predictor("photo.jpg")                   # SGDet: detections + relations
    graph.to_dict()["relations"][:3]                 # [{"subject": 0, "predicate": "on", ...}]
    nx_graph = graph.to_networkx()

The images go through the model as its test images did (the detector's own resizing); boxes
in and out are pixels of the image as given (EXIF orientation applied first). Relations are
ranked by SGB's triplet score (predicate score x subject score x object score, the best
foreground predicate of each scored pair) and the top ``top_k`` are kept.
"""
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from .data.scene_graph import SceneGraph

__all__ = ["Predictor", "load_rgb_image"]

ImageLike = Union[str, Path, Tensor, np.ndarray, Any]  # Any: a PIL image


def load_rgb_image(image: ImageLike) -> Tensor:
    """``[3, H, W]`` float in ``[0, 1]`` from a path, a PIL image (any mode; EXIF orientation
    applied), a ``[H, W]`` / ``[H, W, C]`` uint8 array or a ``[3, H, W]`` float tensor."""
    from PIL import ImageOps

    if isinstance(image, Tensor):
        if image.dim() != 3 or image.size(0) != 3:
            raise ValueError(f"image tensor: expected [3, H, W], got {list(image.shape)}")
        return image.float()
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: image not found")
        from .data.vg import read_rgb  # one-line error for an unreadable file
        arr = read_rgb(path, exif_transpose=True)
    elif isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
            raise ValueError(f"image array: expected [H, W] or [H, W, 1 | 3 | 4], got "
                             f"{list(arr.shape)}")
        arr = np.repeat(arr, 3, axis=2) if arr.shape[2] == 1 else arr[:, :, :3]
        arr = np.ascontiguousarray(arr.astype(np.uint8))
    else:  # a PIL image
        im = ImageOps.exif_transpose(image) or image
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    return torch.from_numpy(arr).permute(2, 0, 1).float().div_(255.0)


class _GivenImages:
    """The minimal dataset :class:`~pyg_sgg.detection.features.DetectorFeatureDataset`
    reads: images, and the user's boxes / labels (none in SGDet)."""

    def __init__(self, images: List[Tensor], boxes: List[Tensor], labels: List[Tensor]):
        self.images, self.boxes, self.labels = images, boxes, labels

    def __len__(self) -> int:
        return len(self.images)

    def load_image(self, i: int) -> Tensor:
        return self.images[i]

    def __getitem__(self, i: int) -> SceneGraph:
        h, w = self.images[i].shape[1:]
        return SceneGraph(self.boxes[i], self.labels[i], (h, w), image_id=i)


def scene_graph_from_predictions(preds: dict, i: int, top_k: int,
                                 object_classes: Optional[Sequence[str]] = None,
                                 predicate_classes: Optional[Sequence[str]] = None,
                                 image_size=None) -> SceneGraph:
    """Image ``i`` of an interchange predictions dict as a :class:`SceneGraph`: ``boxes``,
    ``labels``, ``scores`` of the objects; ``rel_index [2, K]``, ``rel_label [K]``,
    ``rel_score [K]`` of its ``top_k`` relations by SGB's triplet score; ``masks [N, H, W]``
    when the predictions carry them."""
    o0, o1 = int(preds["pred_obj_ptr"][i]), int(preds["pred_obj_ptr"][i + 1])
    r0, r1 = int(preds["rel_ptr"][i]), int(preds["rel_ptr"][i + 1])
    obj_scores = np.asarray(preds["pred_scores"][o0:o1], dtype=np.float32)
    pairs = np.asarray(preds["rel_pair_idx"][r0:r1], dtype=np.int64).reshape(-1, 2)
    scores = np.asarray(preds["rel_scores"][r0:r1], dtype=np.float32)
    if len(pairs):
        pred = scores[:, 1:].argmax(1) + 1
        triplet = scores[np.arange(len(pairs)), pred] * obj_scores[pairs[:, 0]] \
            * obj_scores[pairs[:, 1]]
        keep = np.argsort(-triplet, kind="stable")[:top_k]
        pairs, pred, triplet = pairs[keep], pred[keep], triplet[keep]
    else:
        pred, triplet = np.zeros(0, np.int64), np.zeros(0, np.float32)
    g = SceneGraph(torch.as_tensor(preds["pred_boxes"][o0:o1]),
                   torch.as_tensor(preds["pred_labels"][o0:o1]),
                   image_size if image_size is not None else (0, 0), image_id=i,
                   scores=torch.as_tensor(obj_scores),
                   rel_index=torch.as_tensor(pairs.T.copy()).long().reshape(2, -1),
                   rel_label=torch.as_tensor(pred).long(),
                   rel_score=torch.as_tensor(triplet).float())
    if "pred_masks" in preds:  # a segmentation-grounded model: [N, H, W] bool
        from .evaluation.object_masks import decode_object_masks
        g.masks = torch.from_numpy(decode_object_masks(preds, i))
    g.object_classes = list(object_classes) if object_classes is not None else None
    g.predicate_classes = list(predicate_classes) if predicate_classes is not None else None
    return g


class Predictor:
    """A trained relation model (with its frozen detector) as a function of images.

    Args:
        cfg (CfgNode): the run's config.
        model (SceneGraphModel): trained, on its device.
        detector: the frozen detector of ``cfg``.
        object_classes, predicate_classes (sequence of str): vocabularies (index 0 background).
        top_k (int): relations kept per image. (default: ``20``)
    """

    def __init__(self, cfg, model, detector, object_classes: Sequence[str],
                 predicate_classes: Sequence[str], top_k: int = 20):
        self.cfg, self.model, self.detector = cfg, model.eval(), detector
        self.task = cfg.SGG.TASK.lower()
        self.object_classes, self.predicate_classes = list(object_classes), list(predicate_classes)
        self.top_k = int(top_k)

    @classmethod
    def from_checkpoint(cls, path: Union[str, Path], opts: Sequence[str] = (),
                        top_k: int = 20) -> "Predictor":
        """The model of a pyg_sgg run: its ``config.yaml`` (next to ``path``) with ``opts``
        (``KEY VALUE`` overrides), the training split's vocabulary and statistics (the
        dataset must be where the config says: the cached SynthVG, or ``DATASETS.VG.ROOT``),
        the detector it was trained on, and the weights of ``path``."""
        from .checkpoint_io import load_model_state, read_checkpoint
        from .config import get_cfg
        from .data.statistics import get_statistics
        from .engine.pipeline import (build_detector, build_model,
                                      build_vg_splits)
        from .engine.validation import check_config

        path = Path(path)
        state = read_checkpoint(path)  # a bad file fails before any work
        saved = path.with_name("config.yaml")
        if not saved.is_file():
            raise FileNotFoundError(f"{saved}: the run's config.yaml is not next to the "
                                    f"checkpoint")
        cfg = get_cfg()
        cfg.merge_from_file(str(saved))
        cfg.merge_from_list(list(opts) + ["DATASETS.VAL", "()", "DATASETS.TEST", "()"])
        check_config(cfg)
        train = build_vg_splits(cfg)["train"]
        detector = build_detector(cfg)
        model = build_model(cfg, get_statistics(train), detector, list(train.object_classes))
        load_model_state(model, state, path)
        return cls(cfg, model, detector, train.object_classes, train.predicate_classes, top_k)

    def _labels(self, labels, n: int) -> Tensor:
        if labels is None:
            if self.task == "predcls":
                raise ValueError("labels: a PredCls model needs the object labels (names or "
                                 "class indices) of the given boxes")
            return torch.ones(n, dtype=torch.long)  # unused: the model classifies the boxes
        out = []
        for lab in labels:
            if isinstance(lab, str):
                if lab not in self.object_classes[1:]:
                    raise ValueError(f"labels: {lab!r} is not an object class of this model")
                out.append(self.object_classes.index(lab))
            else:
                if not 1 <= int(lab) < len(self.object_classes):
                    raise ValueError(f"labels: class index {int(lab)} outside "
                                     f"1..{len(self.object_classes) - 1}")
                out.append(int(lab))
        if len(out) != n:
            raise ValueError(f"labels: {len(out)} labels for {n} boxes")
        return torch.tensor(out, dtype=torch.long)

    def _boxes(self, boxes, image: Tensor) -> Tensor:
        if boxes is None:
            if self.task != "sgdet":
                name = {"predcls": "a PredCls", "sgcls": "an SGCls"}[self.task]
                raise ValueError(f"boxes: {name} model needs the object boxes "
                                 f"(xyxy pixels); only an SGDet model detects them")
            return torch.zeros(0, 4)
        if self.task == "sgdet":
            raise ValueError("boxes: this is an SGDet model (it detects its own boxes); "
                             "give boxes to an SGCls or PredCls model")
        b = torch.as_tensor(np.asarray(boxes, dtype=np.float32)).reshape(-1, 4)
        h, w = image.shape[1:]
        if not torch.isfinite(b).all() or bool(((b[:, 2:] < b[:, :2])).any()):
            raise ValueError("boxes: expected finite xyxy boxes with x2 >= x1 and y2 >= y1")
        return b.clamp(min=0).minimum(torch.tensor([w - 1, h - 1, w - 1, h - 1]).float())

    @torch.no_grad()
    def predict(self, images: Sequence[ImageLike], boxes: Optional[Sequence] = None,
                labels: Optional[Sequence] = None) -> List[SceneGraph]:
        """One :class:`SceneGraph` per image (``boxes[i]`` / ``labels[i]`` per image for
        SGCls / PredCls); batched by ``TEST.IMS_PER_BATCH``."""
        from .data.loader import collate_scene_graphs
        from .detection.features import DetectorFeatureDataset

        tensors = [load_rgb_image(im) for im in images]
        box_list = [self._boxes(None if boxes is None else boxes[i], t)
                    for i, t in enumerate(tensors)]
        label_list = [self._labels(None if labels is None else labels[i], b.size(0))
                      for i, b in enumerate(box_list)]
        trainable = self.cfg.MODEL.SGG.FEATURES.lower() == "trainable"
        ds = DetectorFeatureDataset(_GivenImages(tensors, box_list, label_list), self.detector,
                                    mode=self.task, cache=False, feature_maps=trainable,
                                    map_cache=False, masks=self.cfg.MODEL.SGG.SEG.ENABLED)
        out, step = [], max(1, int(self.cfg.TEST.IMS_PER_BATCH))
        for start in range(0, len(ds), step):
            items = [ds[i] for i in range(start, min(len(ds), start + step))]
            preds = self.model.predict(collate_scene_graphs(items))
            preds = {k: v.detach().cpu().numpy() if isinstance(v, Tensor) else np.asarray(v)
                     for k, v in preds.items()}
            for j in range(len(items)):
                h, w = tensors[start + j].shape[1:]
                out.append(scene_graph_from_predictions(
                    preds, j, self.top_k, self.object_classes, self.predicate_classes,
                    image_size=(h, w)))
        return out

    def __call__(self, image: ImageLike, boxes=None, labels=None) -> SceneGraph:
        """The scene graph of one image (see :meth:`predict`)."""
        return self.predict([image], None if boxes is None else [boxes],
                            None if labels is None else [labels])[0]

    def __repr__(self) -> str:
        return (f"Predictor(task={self.task!r}, context={self.cfg.MODEL.SGG.CONTEXT!r}, "
                f"classes={len(self.object_classes) - 1}, "
                f"predicates={len(self.predicate_classes) - 1}, top_k={self.top_k})")
