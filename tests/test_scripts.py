"""train.py / evaluate.py fail in one line naming the bad key or path (run in-process)."""
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script, argv, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [script, *argv])
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(ROOT / script), run_name="__main__")
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    return e.value.code, err


@pytest.mark.parametrize("argv,needle", [
    (["--method", "ce", "SOLVER.BASE_LRR", "1"], "SOLVER.BASE_LRR"),
    (["SOLVER.MAX_ITER", "ten"], "SOLVER.MAX_ITER"),
    (["--config-file", "no/such.yaml"], "no/such.yaml"),
    (["DATASETS.VG.ROOT", "/no/such/vg"], "DATASETS.VG.ROOT"),
])
def test_train_bad_config_one_line(argv, needle, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PYG_SGG_CACHE", str(tmp_path))
    code, err = _run("train.py", argv + ["OUTPUT_DIR", str(tmp_path / "out")], monkeypatch,
                     capsys)
    assert code == 2 and len(err) == 1 and needle in err[0]


def test_evaluate_needs_inputs(monkeypatch, capsys):
    code, err = _run("evaluate.py", [], monkeypatch, capsys)
    assert code == 2 and len(err) == 1 and "--predictions" in err[0]


def test_parser_has_detectron2_flags():
    from pyg_sgg.engine.defaults import default_argument_parser
    args = default_argument_parser().parse_args(
        ["--config-file", "a.yaml", "--resume", "--eval-only", "--num-gpus", "2",
         "--num-machines", "1", "--machine-rank", "0", "--dist-url", "auto",
         "--method", "hml+ebm", "--task", "sgg", "SOLVER.BASE_LR", "0.1"])
    assert args.resume and args.eval_only and args.num_gpus == 2
    assert args.method == "hml+ebm" and args.opts == ["SOLVER.BASE_LR", "0.1"]
