"""SGB's eval_results.pytorch: read without maskrcnn_benchmark, scored like the interchange
file it converts to, and a pickle holding anything else refused."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import evaluate
from pyg_sgg.evaluation.interchange import (PredictionsFormatError,
                                            validate_predictions)
from pyg_sgg.evaluation.sgb_results import main as convert
from pyg_sgg.evaluation.sgb_results import read_sgb_results
from pyg_sgg.evaluation.sgg_metrics import evaluate_predictions

ROOT = Path(__file__).resolve().parents[2]

# Written in a separate process that defines maskrcnn_benchmark's BoxList (attributes as
# SGB's: bbox, size, mode, extra_fields, triplet_extra_fields), so this one never imports it.
WRITER = textwrap.dedent("""
    import sys, types, torch
    for name in ("maskrcnn_benchmark", "maskrcnn_benchmark.structures"):
        sys.modules[name] = types.ModuleType(name)
    mod = types.ModuleType("maskrcnn_benchmark.structures.bounding_box")
    sys.modules[mod.__name__] = mod
    class BoxList:
        def __init__(self, bbox, size, mode="xyxy"):
            self.bbox, self.size, self.mode = torch.as_tensor(bbox).float(), size, mode
            self.extra_fields, self.triplet_extra_fields = {}, []
    BoxList.__module__ = mod.__name__
    mod.BoxList = BoxList
    gts, preds = [], []
    # image 0: two objects, relation (0, 1, 2), predicted right; image 1: xywh boxes, a miss
    g0 = BoxList([[0, 0, 10, 10], [5, 5, 20, 20]], (30, 30))
    g0.extra_fields.update(labels=torch.tensor([1, 2]), relation_tuple=torch.tensor([[0, 1, 2]]))
    p0 = BoxList([[0, 0, 10, 10], [5, 5, 20, 20]], (30, 30))
    p0.extra_fields.update(pred_labels=torch.tensor([1, 2]), pred_scores=torch.tensor([0.9, 0.8]),
                           rel_pair_idxs=torch.tensor([[0, 1], [1, 0]]),
                           pred_rel_scores=torch.tensor([[0.1, 0.1, 0.7, 0.1],
                                                         [0.6, 0.2, 0.1, 0.1]]))
    g1 = BoxList([[0, 0, 11, 11], [20, 20, 5, 5]], (40, 40), mode="xywh")
    g1.extra_fields.update(labels=torch.tensor([3, 1]), relation_tuple=torch.tensor([[1, 0, 1]]))
    p1 = BoxList([[0, 0, 10, 10], [20, 20, 24, 24]], (40, 40))
    p1.extra_fields.update(pred_labels=torch.tensor([3, 1]), pred_scores=torch.tensor([0.5, 0.5]),
                           rel_pair_idxs=torch.tensor([[1, 0]]),
                           pred_rel_scores=torch.tensor([[0.2, 0.1, 0.1, 0.6]]))
    torch.save({"groundtruths": [g0, g1], "predictions": [p0, p1]}, sys.argv[1])
    class Evil:
        def __reduce__(self):
            return (print, ("ran code",))
    torch.save({"groundtruths": [Evil()], "predictions": []}, sys.argv[2])
""")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sgb")
    subprocess.run([sys.executable, "-c", WRITER, str(d / "eval_results.pytorch"),
                    str(d / "evil.pytorch")], check=True)
    return d


def test_reads_sgb_layout_without_maskrcnn_benchmark(files):
    assert "maskrcnn_benchmark" not in sys.modules
    data = validate_predictions(read_sgb_results(files / "eval_results.pytorch"), "sgdet")
    assert data["gt_obj_ptr"].tolist() == [0, 2, 4] and int(data["num_predicates"]) == 3
    # xywh -> xyxy as BoxList.convert: x2 = x + w - 1
    assert data["gt_boxes"][3].tolist() == [20, 20, 24, 24]
    assert data["gt_rels"].tolist() == [[0, 1, 2], [1, 0, 1]]
    out = evaluate_predictions(data, "sgdet", ks=(1,))
    # image 0: its relation is recalled at K = 1; image 1: the pair predicts predicate 3
    assert out["metrics"]["R@1"] == pytest.approx(0.5)


def test_evaluate_py_and_the_converter(files, tmp_path, capsys):
    assert evaluate.main(["--sgb-results", str(files / "eval_results.pytorch"), "--mode",
                          "sgdet", "--ks", "1", "--out", str(tmp_path / "m.json")]) == 0
    assert convert([str(files / "eval_results.pytorch"), str(tmp_path / "p.npz")]) == 0
    assert evaluate.main(["--predictions", str(tmp_path / "p.npz"), "--mode", "sgdet", "--ks",
                          "1", "--out", str(tmp_path / "n.json")]) == 0
    assert (tmp_path / "m.json").read_text() == (tmp_path / "n.json").read_text()


def test_a_pickle_with_anything_else_is_refused(files, capsys):
    with pytest.raises(PredictionsFormatError, match="evil.pytorch: refused: it holds "
                                                     "something other than tensors"):
        read_sgb_results(files / "evil.pytorch")
    assert "ran code" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        evaluate.main(["--sgb-results", str(files / "evil.pytorch")])
    assert "evil.pytorch: refused" in capsys.readouterr().err
