"""The detectron2 backend. Tests that need detectron2 skip without it (it is on no package
index; see the README's "Detectron2 backend"); the first ones run everywhere."""
import pickle
import sys
from pathlib import Path

import pytest
import torch

from pyg_sgg.config import ConfigError, get_cfg
from pyg_sgg.detection.detectron2_backend import INSTALL, require_detectron2
from pyg_sgg.detection.detectron2_backend.labels import (
    box_regressor_rows_to_detectron2, classifier_rows_to_detectron2,
    from_detectron2_classes, from_detectron2_logits, to_detectron2_classes)

REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------- without detectron2
def test_missing_detectron2_is_one_line_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "detectron2", None)  # import detectron2 -> ImportError
    with pytest.raises(ImportError) as e:
        require_detectron2()
    assert str(e.value) == INSTALL and "pip install --no-build-isolation" in INSTALL
    import importlib.util

    from pyg_sgg.engine.validation import check_config
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "detectron2" else real(name, *a))
    cfg = get_cfg()
    cfg.DETECTOR.NAME = "detectron2"
    with pytest.raises(ConfigError) as e:
        check_config(cfg)
    assert "\n" not in str(e.value) and "DETECTOR.NAME" in str(e.value)


def test_class_index_conversions_put_background_last_and_back():
    labels = torch.tensor([1, 5, 3])
    assert to_detectron2_classes(labels).tolist() == [0, 4, 2]
    assert from_detectron2_classes(to_detectron2_classes(labels)).tolist() == [1, 5, 3]
    d2_logits = torch.tensor([[1.0, 2.0, 3.0, 9.0]])  # 3 classes, background last
    assert from_detectron2_logits(d2_logits).tolist() == [[9.0, 1.0, 2.0, 3.0]]
    rows = torch.arange(4.0)  # background row 0 first
    assert classifier_rows_to_detectron2(rows).tolist() == [1.0, 2.0, 3.0, 0.0]
    assert box_regressor_rows_to_detectron2(torch.arange(16.0)).tolist() == list(range(4, 16))


# ------------------------------------------------------------------- with detectron2
d2 = pytest.importorskip("detectron2")


def _small_cfg(**opts):
    cfg = get_cfg()
    cfg.DETECTOR.DETECTRON2.OPTS = [v for kv in opts.items() for v in kv]
    return cfg


def _randomised(model):
    """A detector whose BatchNorm statistics are not the identity."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model.eval()


def test_every_yaml_loads_into_a_detectron2_config():
    from detectron2.config import get_cfg as d2_get_cfg

    from pyg_sgg.detection.detectron2_backend.config import add_sgg_config
    files = sorted(p for p in (REPO / "detectron_configs").rglob("*.yaml"))
    assert len(files) > 20
    for f in files:
        ours = get_cfg()
        ours.merge_from_file(str(f))
        theirs = add_sgg_config(d2_get_cfg())
        theirs.merge_from_file(str(f))
        assert_same(ours, theirs, f.name)


def assert_same(ours, theirs, where, prefix=""):
    """Every key of ``ours`` has the same value in ``theirs``."""
    for k, v in ours.items():
        if k == "VERSION" and not prefix:
            continue
        assert k in theirs, (where, prefix + k)
        if hasattr(v, "items"):
            assert_same(v, theirs[k], where, f"{prefix}{k}.")
        else:
            a, b = (list(x) if isinstance(x, tuple) else x for x in (v, theirs[k]))
            assert a == b, (where, prefix + k)


def test_extract_equals_torchvision_with_mapped_weights():
    from detectron2.modeling import build_model

    from pyg_sgg.detection.build import build_detector_model
    from pyg_sgg.detection.detectron2_backend.config import \
        to_detectron2_config
    from pyg_sgg.detection.detectron2_backend.detector import \
        Detectron2Detector
    from pyg_sgg.detection.detectron2_backend.weights import \
        torchvision_to_detectron2
    from pyg_sgg.detection.torchvision_backend import TorchvisionDetector

    # torchvision's MultiScaleRoIAlign is detectron2's "ROIAlign" (not the default V2)
    cfg = _small_cfg(**{"MODEL.ROI_BOX_HEAD.POOLER_TYPE": "ROIAlign",
                        "MODEL.ROI_MASK_HEAD.POOLER_TYPE": "ROIAlign"})
    torch.manual_seed(0)
    tv = _randomised(build_detector_model(cfg, 10, 5))
    d2m = build_model(to_detectron2_config(cfg, 10, 5))
    sizes = cfg.MODEL.ANCHOR_GENERATOR
    d2m.load_state_dict(torchvision_to_detectron2(tv.state_dict(), len(sizes.SIZES[0]),
                                                  len(sizes.ASPECT_RATIOS[0])), strict=True)
    a_det, b_det = TorchvisionDetector(tv), Detectron2Detector(d2m)
    g = torch.Generator().manual_seed(1)
    images = [torch.rand(3, 150, 200, generator=g), torch.rand(3, 224, 130, generator=g),
              torch.rand(3, 64, 64, generator=g)]
    boxes = [torch.tensor([[10., 20, 100, 120], [0, 0, 199, 149], [50, 60, 70, 90]]),
             torch.tensor([[5., 5, 120, 200]]), torch.zeros(0, 4)]
    for a, b in zip(a_det.extract(images, boxes), b_det.extract(images, boxes)):
        for field in ("roi_features", "pair_features", "class_logits", "mask_logits"):
            x, y = getattr(a, field), getattr(b, field)
            assert x.shape == y.shape, field
            if x.numel():
                assert float(x.std()) > 1e-3, field  # not a constant
                torch.testing.assert_close(x, y, atol=1e-4, rtol=1e-4, msg=field)
        assert torch.equal(a.labels, b.labels)
    maps_a, size_a = a_det.feature_maps(images[0])
    maps_b, size_b = b_det.feature_maps(images[0])
    assert size_a == size_b and a_det.map_scales == b_det.map_scales
    for x, y in zip(maps_a, maps_b):
        torch.testing.assert_close(x, y, atol=1e-4, rtol=1e-4)
    # the trainable relation extractors built by each backend agree too
    (box_a, _), (box_b, _) = (a_det.relation_feature_extractors(),
                              b_det.relation_feature_extractors())
    bx = boxes[0]
    torch.testing.assert_close(box_a([m[None] for m in maps_a], bx, torch.zeros(3, dtype=torch.long)),
                               box_b([m[None] for m in maps_b], bx, torch.zeros(3, dtype=torch.long)),
                               atol=1e-4, rtol=1e-4)


def _inputs(n, masks, num_classes, g):
    from detectron2.structures import BitMasks, Boxes, Instances
    out = []
    for _ in range(n):
        h, w = 96, 128
        inst = Instances((h, w))
        xy = torch.rand(3, 2, generator=g) * torch.tensor([w / 2, h / 2])
        b = torch.cat([xy, xy + torch.tensor([w / 3, h / 3])], 1)
        inst.gt_boxes = Boxes(b)
        inst.gt_classes = torch.randint(0, num_classes, (3,), generator=g)
        if masks:
            m = torch.zeros(3, h, w, dtype=torch.bool)
            for k, (x0, y0, x1, y1) in enumerate(b.long().tolist()):
                m[k, y0:y1, x0:x1] = True
            inst.gt_masks = BitMasks(m)
        out.append({"image": torch.rand(3, h, w, generator=g) * 255, "instances": inst})
    return out


def test_joint_step_trains_each_vocabulary_on_its_own_dataset_only():
    from detectron2.modeling import build_model
    from detectron2.utils.events import EventStorage

    from pyg_sgg.detection.detectron2_backend.config import \
        to_detectron2_config
    torch.manual_seed(0)
    model = build_model(to_detectron2_config(_small_cfg(), 10, 5)).train()
    g = torch.Generator().manual_seed(0)
    heads = model.roi_heads
    with EventStorage():
        losses = model(_inputs(2, False, 10, g))
        assert set(losses) == {"loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg"}
        sum(losses.values()).backward()
        assert heads.box_predictor.cls_score.weight.grad.abs().sum() > 0
        assert heads.coco_box_predictor.cls_score.weight.grad is None
        assert heads.mask_head.predictor.weight.grad is None
        model.zero_grad(set_to_none=True)
        coco = model.losses(_inputs(2, True, 5, g), "coco")
        assert "loss_mask" in coco
        sum(coco.values()).backward()
        assert heads.box_predictor.cls_score.weight.grad is None
        assert heads.coco_box_predictor.cls_score.weight.grad.abs().sum() > 0
        assert heads.mask_head.predictor.weight.grad.abs().sum() > 0
        both = model(_inputs(1, False, 10, g), coco_inputs=_inputs(1, True, 5, g))
    assert {"loss_cls", "coco_loss_cls", "coco_loss_mask"} <= set(both)
    assert heads.num_classes == 10  # the vocabulary switch is undone


def test_a_model_zoo_mask_rcnn_initialises_the_coco_branch(tmp_path):
    """A plain detectron2 Mask R-CNN (one box predictor on COCO, as the model zoo's) saved in
    the model zoo's .pkl layout: its box predictor lands in coco_box_predictor."""
    from detectron2.modeling import build_model

    from pyg_sgg.detection.detectron2_backend.config import \
        to_detectron2_config
    from pyg_sgg.detection.detectron2_backend.weights import JointCheckpointer
    torch.manual_seed(0)
    plain_cfg = to_detectron2_config(_small_cfg(), 5, 5)
    plain_cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    plain_cfg.MODEL.ROI_HEADS.NAME = "StandardROIHeads"
    plain_cfg.MODEL.ROI_HEADS.NUM_CLASSES = 5
    plain = build_model(plain_cfg)
    path = tmp_path / "model_final_zoo.pkl"
    with open(path, "wb") as f:
        pickle.dump({"model": {k: v.numpy() for k, v in plain.state_dict().items()},
                     "__author__": "Detectron2 Model Zoo"}, f)
    torch.manual_seed(1)
    joint = build_model(to_detectron2_config(_small_cfg(), 10, 5))
    vg_before = joint.roi_heads.box_predictor.cls_score.weight.clone()
    JointCheckpointer(joint).load(str(path))
    h, p = joint.roi_heads, plain.roi_heads
    assert torch.equal(h.coco_box_predictor.cls_score.weight, p.box_predictor.cls_score.weight)
    assert torch.equal(h.coco_box_predictor.bbox_pred.bias, p.box_predictor.bbox_pred.bias)
    assert torch.equal(h.mask_head.predictor.weight, p.mask_head.predictor.weight)
    assert torch.equal(h.box_head.fc1.weight, p.box_head.fc1.weight)
    assert torch.equal(joint.backbone.net.lateral[0].weight, plain.backbone.net.lateral[0].weight)
    assert torch.equal(h.box_predictor.cls_score.weight, vg_before)  # VG head: its own init


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    from detectron2.modeling import build_model

    from pyg_sgg.detection.detectron2_backend.config import \
        to_detectron2_config
    from pyg_sgg.detection.detectron2_backend.weights import JointCheckpointer
    model = build_model(to_detectron2_config(_small_cfg(), 3, 0))
    ck = JointCheckpointer(model, str(tmp_path))
    ck.save("model_final", iteration=7)

    def killed(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        ck.save("model_final", iteration=8)
    state = torch.load(tmp_path / "model_final.pth", weights_only=False)
    assert state["iteration"] == 7  # the complete earlier file, not a truncated one
    assert (tmp_path / "last_checkpoint").read_text() == "model_final.pth"


@pytest.mark.slow
@pytest.mark.parametrize("config", ["predcls_ebm_instant", "sgdet_ebm_instant"])
def test_train_py_runs_ebm_on_the_detectron2_backend(config, tmp_path):
    """``train.py --method ebm DETECTOR.NAME detectron2``: the detector trained by detectron2's
    trainer into the cache, then relation training on its (trainable-extractor) features."""
    import json
    import os
    import subprocess
    env = dict(os.environ, PYG_SGG_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="2")
    run = tmp_path / "run"
    out = subprocess.run([sys.executable, "train.py", "--config-file",
                          f"detectron_configs/quick_schedules/{config}.yaml",
                          "DETECTOR.NAME", "detectron2", "DETECTOR.SOLVER.MAX_ITER", "30",
                          "DETECTOR.SOLVER.WARMUP_ITERS", "5", "OUTPUT_DIR", str(run)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    detectors = list((tmp_path / "cache" / "detectors").glob("*/detectron2_config.yaml"))
    assert len(detectors) == 1  # trained by the detectron2 trainer
    assert (detectors[0].parent / "model_final.pth").is_file()
    results = json.loads((run / "test_results.json").read_text())
    if config.startswith("predcls"):
        assert 0.0 < results["metrics"]["R@50"] <= 1.0
    assert (run / "model_final.pth").is_file()


def test_seg_sg_x101_recipe_translates_to_detectron2():
    from pyg_sgg.detection.detectron2_backend.config import \
        to_detectron2_config
    cfg = get_cfg()
    cfg.merge_from_file(str(REPO / "detectron_configs/detector/vg_coco_X101_FPN_detectron2.yaml"))
    d = to_detectron2_config(cfg, 150, 80)
    m = d.MODEL
    assert (m.RESNETS.DEPTH, m.RESNETS.NUM_GROUPS, m.RESNETS.WIDTH_PER_GROUP) == (101, 32, 8)
    assert not m.RESNETS.STRIDE_IN_1X1 and d.INPUT.FORMAT == "BGR"
    assert m.ROI_HEADS.NUM_CLASSES == 150 and m.ROI_HEADS.MASK_NUM_CLASSES == 80
    assert m.RPN.IN_FEATURES == ["p2", "p3", "p4", "p5", "p6"]
    assert m.ROI_HEADS.IN_FEATURES == ["p2", "p3", "p4", "p5"]
    assert m.ROI_BOX_HEAD.FC_DIM == 1024 and m.ROI_MASK_HEAD.NUM_CONV == 4
    assert d.SOLVER.STEPS == (210000, 250000) and d.INPUT.MIN_SIZE_TEST == 800


def test_bad_detectron2_opts_are_one_line():
    from pyg_sgg.detection.detectron2_backend.config import \
        to_detectron2_config
    cfg = _small_cfg(**{"MODEL.NO_SUCH_KEY": "1"})
    with pytest.raises(ValueError) as e:
        to_detectron2_config(cfg, 3, 0)
    assert "DETECTOR.DETECTRON2.OPTS" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.slow
def test_detectron2_training_resumes_from_its_last_checkpoint(tmp_path):
    import os
    import subprocess
    env = dict(os.environ, PYG_SGG_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="2")
    out = tmp_path / "det"
    args = [sys.executable, "train.py", "--task", "detector", "{resume}", "--config-file",
            "detectron_configs/quick_schedules/predcls_ce_instant.yaml", "DETECTOR.NAME",
            "detectron2", "DETECTOR.OUTPUT_DIR", str(out), "DETECTOR.SOLVER.MAX_ITER", "8",
            "DETECTOR.SOLVER.WARMUP_ITERS", "2", "DETECTOR.SOLVER.CHECKPOINT_PERIOD", "4",
            "DETECTOR.EVAL_AFTER_TRAIN", "False"]
    first = subprocess.run([a for a in args if a != "{resume}"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    # as if killed after the iteration-4 checkpoint
    (out / "model_final.pth").unlink()
    (out / "model_0000007.pth").unlink()
    (out / "last_checkpoint").write_text("model_0000003.pth")
    again = subprocess.run(["--resume" if a == "{resume}" else a for a in args], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Starting training from iteration 4" in again.stderr + again.stdout
    assert (out / "model_final.pth").is_file()
