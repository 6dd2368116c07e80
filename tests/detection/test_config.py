from pathlib import Path

import pytest
import torch

from pyg_sgg.config import get_cfg
from pyg_sgg.detection.build import build_detector_from_config, build_detector_model
from pyg_sgg.detection.cache_key import (detector_config_hash, detector_output_dir,
                                         explain_missing_detector, write_cache_key)


CONFIGS = Path(__file__).resolve().parents[2] / "detectron_configs" / "detector"


def test_defaults_and_build():
    cfg = get_cfg()
    assert cfg.MODEL.MASK_ON and cfg.DETECTOR.NAME == "torchvision"
    model = build_detector_model(cfg, 6, 3)
    assert model.num_classes == 6 and model.num_mask_classes == 3
    assert model.representation_size == cfg.MODEL.ROI_BOX_HEAD.FC_DIM
    cfg.MODEL.MASK_ON = False
    assert not build_detector_model(cfg, 6, 3).mask_on
    cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[16, 32]]
    with pytest.raises(ValueError, match="ANCHOR_GENERATOR.SIZES"):
        build_detector_model(cfg, 6)


def test_config_hash_and_output_dir(tmp_path):
    cfg = get_cfg()
    h = detector_config_hash(cfg)
    cfg.DETECTOR.SOLVER.MAX_ITER += 1
    assert detector_config_hash(cfg) != h
    cfg.MODEL.SGG.HIDDEN_DIM += 1  # a scene-graph key: same detector
    h2 = detector_config_hash(cfg)
    cfg.DETECTOR.OUTPUT_DIR = str(tmp_path)
    assert detector_output_dir(cfg) == tmp_path and detector_config_hash(cfg) == h2


@pytest.fixture(scope="module")
def small_synthvg(tmp_path_factory):
    from pyg_sgg.data.synthvg import generate
    root = tmp_path_factory.mktemp("synthvg") / "a"
    generate(root, num_images=12, seed=1, progress=False, num_coco_images=4)
    return root


def test_cache_key_is_content_not_path_or_time(small_synthvg, tmp_path, monkeypatch):
    """Pins the old defect: the key held the h5's absolute path and mtime, so a copied cache
    (or dataset) retrained the detector."""
    import os
    import shutil
    monkeypatch.setenv("PYG_SGG_CACHE", str(tmp_path / "cache"))
    cfg = get_cfg()
    cfg.DATASETS.VG.ROOT = str(small_synthvg)
    h = detector_config_hash(cfg)
    copy = tmp_path / "moved"
    shutil.copytree(small_synthvg, copy)
    h5 = copy / cfg.DATASETS.VG.H5_FILE
    os.utime(h5, (1, 1))  # another time
    cfg.DATASETS.VG.ROOT = str(copy)
    assert detector_config_hash(cfg) == h  # another path and time: the same detector
    with open(h5, "r+b") as f:  # other bytes: another detector
        f.seek(h5.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 1]))
    assert detector_config_hash(cfg) != h


def test_explain_missing_detector_names_the_changed_key(small_synthvg, tmp_path,
                                                        monkeypatch):
    monkeypatch.setenv("PYG_SGG_CACHE", str(tmp_path / "cache"))
    cfg = get_cfg()
    cfg.DATASETS.VG.ROOT = str(small_synthvg)
    assert explain_missing_detector(cfg) == "no detector is cached yet"
    out = detector_output_dir(cfg)
    write_cache_key(cfg, out)
    (out / "model_final.pth").write_bytes(b"")
    cfg.DETECTOR.SOLVER.MAX_ITER = 7
    msg = explain_missing_detector(cfg)
    assert f"({out.name}) differs in DETECTOR.SOLVER.MAX_ITER (600 -> 7)" in msg, msg


def test_build_from_weights(tmp_path):
    cfg = get_cfg()
    cfg.MODEL.ROI_HEADS.NUM_CLASSES, cfg.MODEL.ROI_HEADS.MASK_NUM_CLASSES = 5, 2
    model = build_detector_model(cfg, 5, 2)
    torch.save({"model": model.state_dict()}, tmp_path / "w.pth")
    cfg.DETECTOR.WEIGHTS = str(tmp_path / "w.pth")
    det = build_detector_from_config(cfg)
    assert det.num_classes == 5 and det.masks
    w = "roi_heads.box_predictor.cls_score.weight"
    assert torch.equal(det.model.state_dict()[w], model.state_dict()[w])
    cfg.DETECTOR.WEIGHTS = str(tmp_path / "missing.pth")
    with pytest.raises(FileNotFoundError, match="DETECTOR.WEIGHTS"):
        build_detector_from_config(cfg)


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_yaml_configs_load(name):
    cfg = get_cfg()
    cfg.merge_from_file(str(CONFIGS / name))
    assert cfg.DETECTOR.SOLVER.MAX_ITER > 0


def test_guard_keys_at_their_defaults_leave_the_key_unchanged(small_synthvg, tmp_path,
                                                              monkeypatch):
    """Adding SOLVER.NONFINITE / MAX_SKIPPED_STEPS must not retrain every cached detector:
    at "stop" they are not part of the key; "skip" (which can change the weights) is."""
    from pyg_sgg.detection.cache_key import detector_cache_key
    monkeypatch.setenv("PYG_SGG_CACHE", str(tmp_path / "cache"))
    cfg = get_cfg()
    cfg.DATASETS.VG.ROOT = str(small_synthvg)
    key = detector_cache_key(cfg)
    assert not any("NONFINITE" in k or "MAX_SKIPPED" in k for k in key)
    cfg.DETECTOR.SOLVER.NONFINITE = "skip"
    key = detector_cache_key(cfg)
    assert key["DETECTOR.SOLVER.NONFINITE"] == "skip" and "DETECTOR.SOLVER.MAX_SKIPPED_STEPS" in key


def test_the_training_thread_count_is_pinned_and_keyed(small_synthvg, tmp_path, monkeypatch):
    """The weights depend on the threads a detector trains on: 2 by default whatever the
    process runs with (the key of two-thread detectors unchanged), another count keyed, and
    the process's own count restored after training."""
    from pyg_sgg.detection.cache_key import detector_cache_key, training_threads
    from pyg_sgg.engine.detector_training import torch_threads
    monkeypatch.setenv("PYG_SGG_CACHE", str(tmp_path / "cache"))
    cfg = get_cfg()
    cfg.DATASETS.VG.ROOT = str(small_synthvg)
    assert cfg.DETECTOR.NUM_THREADS == 2 and training_threads(cfg) == 2
    key = detector_cache_key(cfg)
    assert "DETECTOR.NUM_THREADS" not in key
    before = torch.get_num_threads()
    with torch_threads(1):  # a worker limited to one thread: the same detector and key
        assert torch.get_num_threads() == 1
        assert detector_cache_key(cfg) == key
        cfg.DETECTOR.NUM_THREADS = 0  # "torch's count": now 1, a different detector
        assert detector_cache_key(cfg)["DETECTOR.NUM_THREADS"] == 1
    assert torch.get_num_threads() == before
    cfg.DETECTOR.NUM_THREADS = 3
    assert detector_cache_key(cfg)["DETECTOR.NUM_THREADS"] == 3
