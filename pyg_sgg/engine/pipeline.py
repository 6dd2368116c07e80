"""The end-to-end job behind ``train.py`` / ``evaluate.py``: data → detector → features →
relation model → evaluation table.

Each step calls the owning package's public API:

* data: :func:`pyg_sgg.data.synthvg.ensure_dataset` (SynthVG when ``DATASETS.VG.ROOT`` is
  empty), :class:`pyg_sgg.data.vg.VGDataset`, :func:`pyg_sgg.data.statistics.get_statistics`,
  :func:`pyg_sgg.data.loader.collate_scene_graphs`;
* detector: :func:`pyg_sgg.engine.detector_training.ensure_detector` (trains and caches
  one when none is given), :func:`pyg_sgg.detection.build.build_detector_from_config`,
  :class:`pyg_sgg.detection.features.DetectorFeatureDataset` (feature cache),
  :func:`pyg_sgg.engine.detector_training.train_detector_from_config` (``--task detector``);
* model: :meth:`pyg_sgg.models.SceneGraphModel.from_config`, its ``prepare_batch`` (pair
  sampling, targets) and ``predict``;
* method: :func:`pyg_sgg.methods.build_method`;
* evaluation: :class:`pyg_sgg.evaluation.SGGEvaluator` and its table formatter.
"""
import json
import logging
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from . import distributed as du
from .inference import inference_on_dataset
from .metrics_writer import flatten_results
from .trainer import Trainer, seed_all

__all__ = ["dataset_root", "build_vg_splits", "build_detector", "build_feature_datasets",
           "build_model", "build_segmentation_grounding", "build_evaluator",
           "prediction_extras", "format_table", "train_detector", "run_sgg", "build_sgg"]

logger = logging.getLogger(__name__)


def dataset_root(cfg) -> Path:
    """``DATASETS.VG.ROOT``, or the embedded SynthVG (generated into the cache if absent, by
    rank 0 first)."""
    from ..data.roots import vg_root
    if cfg.DATASETS.VG.ROOT:
        root = vg_root(cfg)
        if not root.is_dir():
            raise FileNotFoundError(f"config key DATASETS.VG.ROOT: folder {root} not found")
        return root
    return _main_first(vg_root, cfg)


def _split_name(name: str, key: str) -> str:
    dataset, _, split = name.rpartition("_")
    if dataset.upper() != "VG" or split not in ("train", "val", "test"):
        raise ValueError(f"config key {key}: {name!r} is not VG_train, VG_val or VG_test")
    return split


def build_vg_splits(cfg) -> Dict[str, Any]:
    """``{"train", "val", "test"}`` :class:`VGDataset` of ``DATASETS.TRAIN / VAL / TEST``."""
    from ..data.roots import vg_paths
    from ..data.vg import VGDataset
    vg = cfg.DATASETS.VG
    root = dataset_root(cfg)
    paths = vg_paths(cfg, root)
    for key, p in paths.items():
        if not p.exists():
            raise FileNotFoundError(f"config key DATASETS.VG.{key}: {p} not found")
    out = {}
    # SGB: only SGDet with the overlap requirement filters non-overlapping train relations
    filter_non_overlap = bool(vg.FILTER_NON_OVERLAP and cfg.SGG.TASK == "sgdet"
                              and cfg.MODEL.SGG.REQUIRE_OVERLAP)
    for role, key in (("train", "TRAIN"), ("val", "VAL"), ("test", "TEST")):
        names = cfg.DATASETS[key]
        if len(names) == 0:
            out[role] = None
            continue
        if len(names) > 1:
            raise ValueError(f"config key DATASETS.{key}: one split only, got {list(names)}")
        out[role] = VGDataset(
            root, _split_name(names[0], f"DATASETS.{key}"), h5_file=paths["H5_FILE"],
            dicts_file=paths["DICTS_FILE"], image_data_file=paths["IMAGE_DATA_FILE"],
            image_dir=paths["IMAGE_DIR"], num_val_images=vg.NUM_VAL_IMAGES,
            filter_empty_rels=vg.FILTER_EMPTY_RELS,
            filter_duplicate_rels=vg.FILTER_DUPLICATE_RELS,
            filter_non_overlap=filter_non_overlap, box_scale=vg.BOX_SCALE,
            num_images=vg.NUM_IMAGES, train_fraction=vg.TRAIN_FRACTION,
            subset_seed=vg.TRAIN_SUBSET_SEED)
    return out


def _main_first(fn, *args, **kwargs):
    """Run ``fn`` on rank 0 first (it may train / cache), then on the other ranks."""
    out = fn(*args, **kwargs) if du.is_main_process() else None
    du.synchronize()
    if not du.is_main_process():
        out = fn(*args, **kwargs)
    return out


def build_detector(cfg):
    """The frozen detector of ``cfg`` (trained once by rank 0 and cached when
    ``DETECTOR.WEIGHTS`` is empty)."""
    from ..detection.build import build_detector_from_config
    from .detector_training import ensure_detector
    if du.is_main_process():
        ensure_detector(cfg)
    du.synchronize()
    return build_detector_from_config(cfg)


def build_feature_datasets(cfg, splits: Dict[str, Any], detector) -> Dict[str, Any]:
    """Each split with detector outputs attached: ``det_logits`` (and the detections in
    SGDet), plus ``x`` / ``edge_attr`` (``MODEL.SGG.FEATURES frozen``) or the FPN maps
    (``trainable``); read from the on-disk caches when ``DETECTOR.FEATURE_CACHE`` /
    ``DETECTOR.FEATURE_MAP_CACHE``."""
    import torch

    from ..detection.features import DetectorFeatureDataset
    d = cfg.DETECTOR
    kwargs = dict(mode=cfg.SGG.TASK, cache=d.FEATURE_CACHE,
                  masks=d.CACHE_MASKS or cfg.MODEL.SGG.SEG.ENABLED,
                  feature_maps=cfg.MODEL.SGG.FEATURES.lower() == "trainable",
                  map_cache=d.FEATURE_MAP_CACHE)
    if d.FEATURE_CACHE or d.FEATURE_MAP_CACHE:
        kwargs["dtype"] = getattr(torch, d.FEATURE_DTYPE)
        kwargs["progress"] = du.is_main_process()
    return {k: (None if ds is None else _main_first(DetectorFeatureDataset, ds, detector,
                                                    **kwargs))
            for k, ds in splits.items()}


def build_model(cfg, statistics: dict, detector, class_names=None):
    """The relation model of ``cfg``; in the ``trainable`` feature mode with the
    detector's box / union feature extractors (initialised from its box head)."""
    from ..models.scene_graph_model import SceneGraphModel
    c = cfg.MODEL.SGG
    extractors = None
    if c.SEG.ENABLED:
        grounding = build_segmentation_grounding(cfg, detector, class_names)
        if not c.SEG.RELATION_GROUNDING:  # object grounding alone: plain pair features
            extractors = detector.relation_feature_extractors(
                all_levels=c.UNION_ALL_LEVELS, spatial=c.UNION_SPATIAL)
        return SceneGraphModel.from_config(cfg, statistics, class_names=class_names,
                                           grounding=grounding, feature_extractors=extractors)
    if c.FEATURES.lower() == "trainable":
        extractors = detector.relation_feature_extractors(all_levels=c.UNION_ALL_LEVELS,
                                                          spatial=c.UNION_SPATIAL)
    return SceneGraphModel.from_config(cfg, statistics, feature_dim=detector.feature_dim,
                                       pair_feature_dim=detector.pair_feature_dim,
                                       class_names=class_names,
                                       feature_extractors=extractors)


def build_segmentation_grounding(cfg, detector, class_names):
    """:class:`~pyg_sgg.nn.SegmentationGrounding` of ``cfg``: the zero-shot transfer from the
    detector's COCO mask vocabulary (the COCO annotation file's categories) to
    ``class_names``, embeddings from ``MODEL.SGG.GLOVE_FILE`` or the ``language`` extra."""
    import json

    from ..data.mask_transfer import transfer_embeddings, transfer_matrix
    from ..data.roots import coco_paths, vg_root
    from ..nn.segmentation_grounding import SegmentationGrounding
    c = cfg.MODEL.SGG
    ann = coco_paths(cfg, vg_root(cfg, generate=False))["TRAIN_ANNOTATIONS"]
    cats = sorted(json.loads(Path(ann).read_text())["categories"], key=lambda x: int(x["id"]))
    coco_names = ["__background__"] + [str(x["name"]) for x in cats]
    names = list(class_names)
    try:
        vg_embed = transfer_embeddings(names, c.GLOVE_FILE)
        coco_embed = transfer_embeddings(coco_names, c.GLOVE_FILE)
    except RuntimeError as e:
        raise FileNotFoundError(f"MODEL.SGG.SEG.ENABLED: the mask transfer needs real "
                                f"class-name embeddings: {e}") from None
    transfer, base = transfer_matrix(names, coco_names, vg_embed, coco_embed,
                                     threshold=c.SEG.TRANSFER_THRESHOLD)
    logger.info("mask transfer: %d of %d VG classes copy a COCO class, %d are novel",
                int((base >= 0).sum()), len(base), int((base < 0).sum()))
    return SegmentationGrounding(transfer, detector.map_channels, detector.map_scales,
                                 detector.feature_dim, len(names), attention=c.SEG.ATTENTION,
                                 pool_to=c.SEG.POOL_TO,
                                 sampling_ratio=detector.pooler_sampling_ratio,
                                 relation=c.SEG.RELATION_GROUNDING)


def prediction_extras(statistics: Optional[dict], dataset=None) -> Dict[str, Any]:
    """Global keys of the predictions format: ``train_triplets``, ``predicate_names``."""
    out: Dict[str, Any] = {}
    if statistics is not None and statistics.get("train_triplets") is not None:
        out["train_triplets"] = np.asarray(statistics["train_triplets"], dtype=np.int64)
        if statistics.get("triplet_counts") is not None:
            out["train_triplet_counts"] = np.asarray(statistics["triplet_counts"], np.int64)
    names = getattr(dataset, "predicate_classes", None)
    if names is not None:
        out["predicate_names"] = np.asarray(list(names))
    return out


def build_evaluator(cfg, statistics: Optional[dict] = None, dataset=None):
    """:class:`pyg_sgg.evaluation.SGGEvaluator` for ``cfg.SGG.TASK`` and ``TEST.KS``, with the
    training triplets (zR@K, fsR@K) and predicate names of ``statistics`` / ``dataset``."""
    from ..evaluation import SGGEvaluator
    extras = prediction_extras(statistics, dataset)
    num_predicates = None
    if dataset is not None and hasattr(dataset, "predicate_classes"):
        num_predicates = len(dataset.predicate_classes) - 1  # P, no background
    return SGGEvaluator(cfg.SGG.TASK, num_predicates, ks=tuple(cfg.TEST.KS),
                        train_triplets=extras.get("train_triplets"),
                        train_triplet_counts=extras.get("train_triplet_counts"),
                        predicate_names=extras.get("predicate_names"))


def _jsonable(o):
    return o.tolist() if hasattr(o, "tolist") else str(o)


def format_table(results: Dict[str, Any], title: str = "") -> str:
    """The evaluation table of an evaluator's ``{"metrics", ...}`` output
    (:func:`pyg_sgg.evaluation.format_results`); any other dict of numbers as one
    ``name  value`` line each (the detector's APs)."""
    if isinstance(results, dict) and "metrics" in results:
        from ..evaluation import format_results
        return format_results(results, title=title)
    results = flatten_results(results)
    lines = [title] if title else []
    width = max((len(k) for k in results), default=0)
    lines += [f"{k:<{width}}  {v:8.4f}" for k, v in results.items()]
    return "\n".join(lines)


def train_detector(cfg, resume: bool = False) -> Dict[str, Any]:
    """``train.py --task detector``: the torchvision detector trains in one process (rank
    0); detectron2's trainer runs on every rank (DDP)."""
    from .detector_training import train_detector_from_config
    if cfg.DETECTOR.NAME.lower() == "detectron2" and du.get_world_size() > 1:
        res = train_detector_from_config(cfg, resume=resume)
        du.synchronize()
        return res
    if not du.is_main_process():  # the torchvision detector trainer is single-process
        du.synchronize()
        return {}
    res = train_detector_from_config(cfg, resume=resume)
    du.synchronize()
    return res


def build_sgg(cfg) -> Dict[str, Any]:
    """Everything :func:`run_sgg` needs: datasets with features, statistics, detector,
    model, method, evaluator."""
    from ..data.loader import collate_scene_graphs
    from ..data.statistics import get_statistics
    from ..methods import build_method
    seed_all(cfg.SEED)
    raw = build_vg_splits(cfg)
    stats = get_statistics(raw["train"])
    detector = build_detector(cfg)
    feats = build_feature_datasets(cfg, raw, detector)
    seed_all(cfg.SEED)  # the model's initialisation does not depend on the steps above
    model = build_model(cfg, stats, detector, list(raw["train"].object_classes))
    method = build_method(cfg.SGG.METHOD, cfg, stats)
    evaluator = build_evaluator(cfg, stats, raw["train"])
    return {"raw": raw, "statistics": stats, "detector": detector, "features": feats,
            "model": model, "method": method, "evaluator": evaluator,
            "collate_fn": collate_scene_graphs,
            "extras": prediction_extras(stats, raw["train"]),
            "coco": build_segmentation_samples(cfg, detector, model)}


def build_segmentation_samples(cfg, detector, model, split: str = "train"):
    """The COCO ``split`` images (``"train"``: the refinement head's multi-task step,
    ``"val"``: its mask AP) as
    :class:`~pyg_sgg.engine.segmentation_stream.COCOSegmentationSamples`, or ``None`` when
    the model has no refinement head."""
    if getattr(model, "refinement", None) is None:
        return None
    import torch

    from ..data.coco import COCOMaskDataset
    from ..data.roots import coco_paths, vg_root
    from ..detection.features import DetectorFeatureDataset
    from .segmentation_stream import COCOSegmentationSamples
    d = cfg.DETECTOR
    paths = coco_paths(cfg, vg_root(cfg, generate=False))
    coco = COCOMaskDataset(paths["TRAIN_ANNOTATIONS" if split == "train" else
                                 "VAL_ANNOTATIONS"], paths["IMAGE_DIR"])
    kwargs = {"dtype": getattr(torch, d.FEATURE_DTYPE), "progress": du.is_main_process()}
    feats = _main_first(DetectorFeatureDataset, coco, detector, mode="predcls",
                        cache=d.FEATURE_CACHE, masks=True, feature_maps=True,
                        map_cache=d.FEATURE_MAP_CACHE, **kwargs)
    return COCOSegmentationSamples(feats, model.refinement.resolution,
                                   instances=model.refinement.embedding_dim > 0)


def run_sgg(cfg, resume: bool = False, eval_only: bool = False) -> Dict[str, float]:
    """Train the relation model (unless ``eval_only``), then evaluate on ``DATASETS.TEST``,
    print the table and write ``test_results.json`` + ``predictions_test.npz`` to
    ``OUTPUT_DIR``."""
    parts = build_sgg(cfg)
    feats, model = parts["features"], parts["model"]
    transform = model.prepare_batch
    if parts["coco"] is not None:  # Seg-SG: a COCO batch beside every VG batch
        from .segmentation_stream import AttachCOCOBatches
        transform = AttachCOCOBatches(
            transform, parts["coco"], cfg.SOLVER.IMS_PER_BATCH // cfg.MODEL.SGG.SEG.DATA_DIVISOR,
            parts["collate_fn"], cfg.SEED)
    trainer = Trainer(cfg, model, parts["method"], feats["train"], val_set=feats["val"],
                      evaluator=parts["evaluator"], collate_fn=parts["collate_fn"],
                      batch_transform=transform, extra_predictions=parts["extras"])
    if eval_only:
        if not trainer.resume_or_load(resume) and not cfg.MODEL.WEIGHTS:
            raise FileNotFoundError(f"--eval-only needs MODEL.WEIGHTS, or --resume with a "
                                    f"checkpoint in {cfg.OUTPUT_DIR}")
    else:
        trainer.train(resume=resume)
    if feats["test"] is None:
        return trainer.last_results
    preds = trainer.inference(feats["test"])
    results: Dict[str, float] = {}
    if du.is_main_process():
        out = Path(cfg.OUTPUT_DIR)
        out.mkdir(parents=True, exist_ok=True)
        from ..evaluation import write_predictions
        write_predictions(out / "predictions_test.npz", preds)
        if parts["evaluator"] is not None:
            raw = trainer.score(preds, raw=True)
            results = flatten_results(raw)
            if parts["coco"] is not None:  # Seg-SG's Table 2: frozen vs refined masks
                from .segmentation_eval import refined_mask_ap
                val = build_segmentation_samples(cfg, parts["detector"], model, "val")
                raw["mask_ap"] = refined_mask_ap(model, val, parts["collate_fn"],
                                                 cfg.TEST.IMS_PER_BATCH)
                print(format_table(raw["mask_ap"], "COCO val mask AP on GT boxes"))
            (out / "test_results.json").write_text(json.dumps(raw, indent=1, default=_jsonable))
            print(format_table(raw, f"{cfg.SGG.TASK} / {cfg.SGG.METHOD} on "
                                    f"{cfg.DATASETS.TEST[0]}"))
        logger.info("predictions written to %s", out / "predictions_test.npz")
        final = out / "model_final.pth"
        if final.is_file():
            hint = "" if cfg.SGG.TASK == "sgdet" else " --boxes BOXES.json"
            logger.info("model: %s; scene graphs of your images: python -m pyg_sgg.predict "
                        "--checkpoint %s IMAGE...%s --out DIR", final, final, hint)
    return du.broadcast_object(results)


def run_inference(cfg, checkpoint: str, split: str = "test") -> Dict[str, Any]:
    """``evaluate.py --config-file … --checkpoint …``: predictions of ``split`` (dict) and
    the evaluator (or ``None``)."""
    from ..checkpoint_io import load_model_state
    from .checkpoint import Checkpointer
    state = Checkpointer.load(checkpoint)  # a bad file fails before any long work
    parts = build_sgg(cfg)
    load_model_state(parts["model"], state, checkpoint)
    ds = parts["features"][split]
    if ds is None:
        raise ValueError(f"config key DATASETS.{split.upper()} is empty")
    preds = inference_on_dataset(parts["model"], ds, cfg, parts["collate_fn"])
    if preds:
        preds.update(parts["extras"])
    return {"predictions": preds, "evaluator": parts["evaluator"]}
