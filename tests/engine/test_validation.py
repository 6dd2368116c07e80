"""Every name and path a run needs is checked before any work starts (defect: ``--method foo``
generated the dataset and trained the detector for minutes first)."""
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from pyg_sgg.config import ConfigError, get_cfg
from pyg_sgg.engine.validation import check_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv,line", [
    (["--method", "foo"], "config key SGG.METHOD (--method): 'foo' is not a training method; "
                          "choose from ['baikal', 'ce', 'cmat', 'disc', 'ebm', 'gcl', 'hml']"),
    (["--method", "hml+foo"], "'foo' is not a training method"),
    (["--method", "ebm+ebm"], "'ebm+ebm' names a method twice"),
    (["SGG.TASK", "scls"], "config key SGG.TASK: 'scls' is not one of "
                           "['predcls', 'sgcls', 'sgdet']"),
    (["MODEL.SGG.CONTEXT", "gnn"], "config key MODEL.SGG.CONTEXT: 'gnn' is not one of "
                                   "['none', 'imp', 'motifs', 'transformer', 'vctree']"),
    (["DETECTOR.NAME", "mmdet"], "config key DETECTOR.NAME: 'mmdet' is not one of "
                                 "['torchvision', 'detectron2']"),
    (["EBM.BASE_GRAD", "up"], "config key EBM.BASE_GRAD: 'up' is not one of"),
    (["BAIKAL.FORM", "cma"], "config key BAIKAL.FORM: 'cma' is not one of"),
    (["GCL.WEIGHTS", "[1.0]"], "config key GCL.WEIGHTS: 3 weights"),
    (["CMAT.START_FRACTION", "1.0"], "config key CMAT.START_FRACTION / CMAT.TOP_K"),
    (["MODEL.SGG.SEG.ENABLED", "True", "MODEL.SGG.FEATURES", "frozen"],
     "config key MODEL.SGG.SEG.ENABLED: segmentation grounding needs"),
    (["MODEL.SGG.SEG.ATTENTION", "diff"], "config key MODEL.SGG.SEG.ATTENTION: 'diff'"),
    (["MODEL.SGG.SEG.ENABLED", "True", "MODEL.SGG.SEG.REFINE_SEG_MASKS", "True",
      "MODEL.SGG.SEG.REFINEMENT_HEAD", "polar"],
     "config key MODEL.SGG.SEG.REFINE_SEG_MASKS: needs MODEL.SGG.SEG.REFINEMENT True, "
     "REFINEMENT_HEAD per_pixel"),
    (["SOLVER.MAX_ITER", "0"], "config key SOLVER.MAX_ITER: must be >= 1, got 0"),
    (["SOLVER.MAX_ITER", "-5"], "config key SOLVER.MAX_ITER: must be >= 1, got -5"),
    (["SOLVER.IMS_PER_BATCH", "0"], "config key SOLVER.IMS_PER_BATCH: must be >= 1"),
    (["MODEL.DEVICE", "cuda:7"], "config key MODEL.DEVICE: 'cuda:7' is not available"),
    (["MODEL.DEVICE", "tpu"], "config key MODEL.DEVICE: 'tpu' is not"),
    (["SOLVER.OPTIMIZER", "lamb"], "config key SOLVER.OPTIMIZER: 'lamb' is not one of"),
    (["DATASETS.TEST", "('COCO_test',)"], "config key DATASETS.TEST: 'COCO_test'"),
    (["MODEL.WEIGHTS", "/no/model.pth"], "config key MODEL.WEIGHTS: file /no/model.pth not "
                                         "found"),
    (["DETECTOR.WEIGHTS", "/no/det.pth"], "config key DETECTOR.WEIGHTS: file /no/det.pth"),
    (["MODEL.SGG.GLOVE_FILE", "/no/glove.txt"], "config key MODEL.SGG.GLOVE_FILE: file"),
])
def test_train_rejects_a_bad_name_before_any_work(argv, line, monkeypatch, capsys, tmp_path):
    from pyg_sgg.engine import pipeline

    def no_work(*a, **k):
        raise AssertionError("the run started before its config was checked")

    for fn in ("run_sgg", "train_detector", "build_sgg", "dataset_root"):
        monkeypatch.setattr(pipeline, fn, no_work)
    monkeypatch.setenv("PYG_SGG_CACHE", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["train.py", *argv, "OUTPUT_DIR", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(ROOT / "train.py"), run_name="__main__")
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and err[0].startswith("error: ")
    assert line in err[0], err[0]
    assert not list(tmp_path.iterdir())  # nothing generated, trained or cached


def test_dataset_files_are_checked_when_a_root_is_given(tmp_path):
    cfg = get_cfg()
    cfg.DATASETS.VG.ROOT = str(tmp_path)
    with pytest.raises(ConfigError, match=r"DATASETS.VG.H5_FILE: file .*VG-SGG-with-attri.h5"):
        check_config(cfg)
    for name in ("VG-SGG-with-attri.h5", "VG-SGG-dicts-with-attri.json", "image_data.json"):
        (tmp_path / name).write_text("")
    with pytest.raises(ConfigError, match="DATASETS.VG.IMAGE_DIR: folder"):
        check_config(cfg)
    (tmp_path / "images").mkdir()
    check_config(cfg)  # the VG files are there; COCO is only needed to train the detector
    with pytest.raises(ConfigError, match="DATASETS.COCO.TRAIN_ANNOTATIONS"):
        check_config(cfg, job="detector")


def test_the_check_imports_no_model_code():
    """What keeps it fast: neither PyG nor a model, method or detector module is imported."""
    code = ("import sys; from pyg_sgg.config import get_cfg; "
            "from pyg_sgg.engine.validation import check_config; check_config(get_cfg()); "
            "heavy = [m for m in sys.modules if m.startswith(('torch_geometric', "
            "'pyg_sgg.models.scene', 'pyg_sgg.methods.ebm', 'pyg_sgg.methods.hml', "
            "'pyg_sgg.nn.context.motifs', 'pyg_sgg.detection.build', 'torchvision'))]; "
            "heavy = [m for m in heavy if not m.endswith('_config')]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_every_shipped_config_passes_the_checks():
    """The configs in detectron_configs/ load and name only valid choices (the VG150 mix-ins
    point at real VG files, which are not on this machine); a detectron2 config without
    detectron2 installed stops at exactly the one-line install message."""
    import importlib.util

    from pyg_sgg.detection.detectron2_backend import INSTALL
    have_d2 = importlib.util.find_spec("detectron2") is not None
    root = ROOT / "detectron_configs"
    configs = sorted(root.rglob("*.yaml"))
    assert len(configs) > 40
    for f in configs:
        cfg = get_cfg()
        cfg.merge_from_file(str(f))
        if f.name.startswith("VG150"):
            cfg.DATASETS.VG.ROOT = ""
        if cfg.DETECTOR.NAME == "detectron2" and not have_d2:
            with pytest.raises(ConfigError) as e:
                check_config(cfg)
            assert str(e.value) == f"config key DETECTOR.NAME: {INSTALL}", f.name
            continue
        check_config(cfg)


def _train_error(argv, tmp_path, monkeypatch, capsys):
    """The one error line of train.py with ``argv`` (the pipeline must not be reached)."""
    from pyg_sgg.engine import pipeline

    def no_work(*a, **k):
        raise AssertionError("the run started before its config was checked")

    for fn in ("run_sgg", "train_detector", "build_sgg", "dataset_root"):
        monkeypatch.setattr(pipeline, fn, no_work)
    monkeypatch.setenv("PYG_SGG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "argv", ["train.py", *argv])
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(ROOT / "train.py"), run_name="__main__")
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert not (tmp_path / "cache").exists()
    return err[0]


def test_yaml_cycles_and_syntax_errors_are_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "a.yaml").write_text('_BASE_: "b.yaml"\n')
    (tmp_path / "b.yaml").write_text('_BASE_: ["a.yaml"]\n')
    (tmp_path / "bad.yaml").write_text("SOLVER:\n  MAX_ITER: [1\n")
    (tmp_path / "leaf.yaml").write_text('_BASE_: "missing.yaml"\n')
    line = _train_error(["--config-file", str(tmp_path / "a.yaml")], tmp_path, monkeypatch, capsys)
    assert "_BASE_ cycle a.yaml -> b.yaml -> a.yaml" in line, line
    line = _train_error(["--config-file", str(tmp_path / "bad.yaml")], tmp_path, monkeypatch,
                        capsys)
    assert f"config file {tmp_path / 'bad.yaml'}: YAML syntax error at line 3" in line, line
    line = _train_error(["--config-file", str(tmp_path / "leaf.yaml")], tmp_path, monkeypatch,
                        capsys)
    assert "missing.yaml (the _BASE_ of" in line and "not found" in line, line


def test_resume_of_another_method_is_refused(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "last_checkpoint").write_text("model_0000010.pth")
    (out / "config.yaml").write_text("SGG:\n  METHOD: hml\n  TASK: predcls\n")
    line = _train_error(["--method", "ce", "--resume", "OUTPUT_DIR", str(out)], tmp_path,
                        monkeypatch, capsys)
    assert "--resume:" in line and "SGG.METHOD 'hml'" in line and "'ce'" in line, line


def test_resume_with_nothing_to_resume_says_so(tmp_path, caplog):
    from pyg_sgg.engine.validation import check_resume

    cfg = get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path)
    assert check_resume(cfg) is False  # train.py logs "starting from scratch"
    (tmp_path / "last_checkpoint").write_text("model_final.pth")
    (tmp_path / "config.yaml").write_text("SGG:\n  METHOD: CE\n")
    assert check_resume(cfg) is True
