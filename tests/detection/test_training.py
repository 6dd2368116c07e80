import torch

from pyg_sgg.config import get_cfg
from pyg_sgg.detection.training import DetectionSamples, detector_state_dict, infinite_loader
from pyg_sgg.engine.detector_training import train_detector

from .test_joint_mask_rcnn import tiny_model


def _cfg(**solver):
    cfg = get_cfg()
    cfg.MODEL.DEVICE = "cpu"
    s = cfg.DETECTOR.SOLVER
    s.MAX_ITER, s.IMS_PER_BATCH, s.WARMUP_ITERS, s.CHECKPOINT_PERIOD, s.LOG_PERIOD = 2, 2, 1, 1, 1
    for k, v in solver.items():
        s[k] = v
    return cfg


def test_detector_solver_has_the_solver_schema():
    cfg = get_cfg()
    assert set(cfg.DETECTOR.SOLVER) == set(cfg.SOLVER)
    assert cfg.DETECTOR.SOLVER.OPTIMIZER == "SGD" and cfg.DETECTOR.SOLVER.BASE_LR == 0.02
    assert cfg.DETECTOR.SOLVER.LR_SCHEDULER_NAME == "WarmupCosineLR"


def test_train_through_the_engine_checkpoint_and_resume(shapes, tmp_path):
    vg = shapes(4, 4, seed=10, empty_first=True)
    coco = shapes(4, 3, masks=True, seed=11)
    model = tiny_model()
    res = train_detector(model, vg, coco, _cfg(), output_dir=tmp_path)
    assert res["iteration"] == 2 and res["checkpoint"].is_file()
    logged = (tmp_path / "metrics.json").read_text()
    assert '"loss_classifier"' in logged and '"coco_loss_mask"' in logged
    assert (tmp_path / "last_checkpoint").read_text().strip() == "model_final.pth"
    assert (tmp_path / "model_0000001.pth").is_file()
    assert not list(tmp_path.glob("*.tmp*"))  # atomic writes leave no temporary files
    state = torch.load(res["checkpoint"], weights_only=False)
    assert state["iteration"] == 2
    fresh = tiny_model()
    fresh.load_state_dict(detector_state_dict(state))  # loads as a bare detector
    w = "roi_heads.box_predictor.cls_score.weight"
    assert torch.equal(fresh.state_dict()[w], model.state_dict()[w])

    resumed = tiny_model()
    res2 = train_detector(resumed, vg, coco, _cfg(MAX_ITER=3), output_dir=tmp_path,
                          resume=True)
    assert res2["iteration"] == 3
    assert torch.load(res2["checkpoint"], weights_only=False)["iteration"] == 3
    # the resumed model started from the checkpoint, not from its own init
    assert not torch.equal(resumed.state_dict()[w], tiny_model().state_dict()[w])


def test_resumed_detector_training_is_bit_identical(shapes, tmp_path):
    """Resuming from the iteration-2 checkpoint of a 4-iteration run ends with that run's
    weights (schedule, data streams, flips and RNG all restored)."""
    import shutil
    vg, coco = shapes(6, 4, seed=3), shapes(4, 3, masks=True, seed=4)
    cfg = _cfg(MAX_ITER=4, CHECKPOINT_PERIOD=2)
    cfg.INPUT.RANDOM_FLIP = "horizontal"  # the flips draw from the checkpointed RNG
    torch.manual_seed(0)
    whole = tiny_model()
    train_detector(whole, vg, coco, cfg, output_dir=tmp_path / "whole")
    parts = tmp_path / "parts"
    shutil.copytree(tmp_path / "whole", parts)
    (parts / "model_final.pth").unlink()
    (parts / "last_checkpoint").write_text("model_0000002.pth")
    torch.manual_seed(123)  # another global RNG state and init: the checkpoint restores all
    resumed = tiny_model()
    train_detector(resumed, vg, coco, cfg, output_dir=parts, resume=True)
    for (k, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


def test_box_only_training(shapes, tmp_path):
    model = tiny_model(num_mask_classes=0)
    train_detector(model, shapes(2, 4, seed=12), None, _cfg(MAX_ITER=1, OPTIMIZER="AdamW",
                                                            BASE_LR=1e-3),
                   output_dir=tmp_path)
    assert "coco_" not in (tmp_path / "metrics.json").read_text()


def test_loader_resumes_same_sequence(shapes):
    samples = DetectionSamples(shapes(5, 4, seed=13))
    full = infinite_loader(samples, 2, seed=0)
    seq = [torch.stack([t["boxes"].sum() for t in next(full)[1]]) for _ in range(5)]
    late = infinite_loader(samples, 2, seed=0, start_iter=3)
    assert torch.equal(torch.stack([t["boxes"].sum() for t in next(late)[1]]), seq[3])


def test_hflip_flips_boxes_and_masks(shapes):
    ds = shapes(1, 3, masks=True, seed=14)
    torch.manual_seed(0)
    img, t = DetectionSamples(ds, masks=True, hflip=1.0)[0]
    img0, t0 = DetectionSamples(ds, masks=True)[0]
    w = img.shape[-1]
    assert torch.equal(img, img0.flip(-1)) and torch.equal(t["masks"], t0["masks"].flip(-1))
    assert torch.allclose(t["boxes"][:, 0], w - t0["boxes"][:, 2])
