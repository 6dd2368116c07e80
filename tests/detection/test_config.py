from pathlib import Path

import pytest
import torch

from pyg_sgg.config import get_cfg
from pyg_sgg.detection.config import (build_detector_from_config, build_detector_model,
                                      detector_config_hash, detector_output_dir)
from pyg_sgg.detection.training import save_checkpoint

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


def test_build_from_weights(tmp_path):
    cfg = get_cfg()
    cfg.MODEL.ROI_HEADS.NUM_CLASSES, cfg.MODEL.ROI_HEADS.MASK_NUM_CLASSES = 5, 2
    model = build_detector_model(cfg, 5, 2)
    save_checkpoint(tmp_path / "w.pth", {"model": model.state_dict()})
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
