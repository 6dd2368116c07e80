import numpy as np
import pytest

from pyg_sgg.config import get_cfg
from pyg_sgg.engine import pipeline
from pyg_sgg.engine.samplers import InferenceSampler, TrainingSampler


@pytest.mark.parametrize("world", [2, 3])
def test_training_sampler_shards_the_global_stream(world):
    size, B = 7, 6
    one = iter(TrainingSampler(size, seed=3))
    ranks = [iter(TrainingSampler(size, seed=3, rank=r, world_size=world)) for r in range(world)]
    for _ in range(5):  # each global batch is the same set of indices
        glob = sorted(next(one) for _ in range(B))
        parts = sorted(next(it) for it in ranks for _ in range(B // world))
        assert glob == parts
    resumed = iter(TrainingSampler(size, seed=3, start=5 * B))
    cont = iter(TrainingSampler(size, seed=3))
    for _ in range(5 * B):
        next(cont)
    assert [next(resumed) for _ in range(10)] == [next(cont) for _ in range(10)]


def test_inference_sampler_covers_once():
    idx = [i for r in range(3) for i in InferenceSampler(8, r, 3)]
    assert idx == list(range(8))


def test_build_evaluator_and_table():
    from pyg_sgg.evaluation import SGGEvaluator
    cfg = get_cfg()
    cfg.TEST.KS = (5, 10)
    assert pipeline.format_table({"R@20": 0.5}).split() == ["R@20", "0.5000"]

    class Split:
        predicate_classes = ["__background__", "on", "has"]

    ev = pipeline.build_evaluator(cfg, {"train_triplets": np.zeros((1, 3), np.int64)}, Split())
    assert isinstance(ev, SGGEvaluator) and ev.mode == "predcls" and ev.ks == (5, 10)
    assert ev.num_predicates == 2 and ev.extras["train_triplets"].shape == (1, 3)
    assert list(ev.extras["predicate_names"]) == Split.predicate_classes


def test_missing_dataset_files_name_the_key(tmp_path):
    cfg = get_cfg()
    cfg.merge_from_list(["DATASETS.VG.ROOT", str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="DATASETS.VG.H5_FILE"):
        pipeline.build_vg_splits(cfg)


def test_flatten_results_uses_evaluator_metrics():
    from pyg_sgg.engine.metrics_writer import flatten_results
    raw = {"metrics": {"R@100": 0.5, "mR@100": np.float64(0.25)},
           "per_predicate": {"on": {"R@100": 1.0}}, "counts": {"num_images": 3}}
    assert flatten_results(raw) == {"R@100": 0.5, "mR@100": 0.25}
    assert flatten_results({"a": {"b": 1}}) == {"a/b": 1.0}


@pytest.mark.parametrize("task,require_overlap,kept", [
    ("predcls", True, [3, 4]), ("sgcls", True, [3, 4]), ("sgdet", False, [3, 4]),
    ("sgdet", True, [4])])
def test_non_overlap_filter_only_in_sgdet_as_sgb(tmp_path, task, require_overlap, kept):
    from pyg_sgg.data.vg_writer import write_vg150
    from tests.data.conftest import OBJ, PRED, vg_images, write_images
    images = vg_images()
    write_vg150(tmp_path, images, OBJ, PRED)
    write_images(tmp_path / "images", images)
    cfg = get_cfg()
    cfg.merge_from_list(["DATASETS.VG.ROOT", str(tmp_path), "DATASETS.VG.NUM_VAL_IMAGES", "1",
                         "SGG.TASK", task, "MODEL.SGG.REQUIRE_OVERLAP", str(require_overlap)])
    train = pipeline.build_vg_splits(cfg)["train"]
    # image 3 has a single, non-overlapping relation: SGB drops it only in SGDet training
    assert train.image_ids.tolist() == kept
