import pytest

from pyg_sgg.config import ConfigError, get_cfg


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_base_chain_and_overrides(tmp_path):
    _write(tmp_path / "Base.yaml", "SOLVER:\n  BASE_LR: 0.5\n  MAX_ITER: 100\nSEED: 3\n")
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub" / "Mid.yaml", "_BASE_: ../Base.yaml\nSOLVER:\n  MAX_ITER: 200\n")
    leaf = _write(tmp_path / "sub" / "leaf.yaml",
                  "_BASE_: Mid.yaml\nSOLVER:\n  STEPS: [10, 20]\n  BASE_LR: 1\n")
    cfg = get_cfg()
    cfg.merge_from_file(leaf)
    assert cfg.SOLVER.MAX_ITER == 200 and cfg.SEED == 3
    assert cfg.SOLVER.BASE_LR == 1.0 and isinstance(cfg.SOLVER.BASE_LR, float)
    assert tuple(cfg.SOLVER.STEPS) == (10, 20)
    cfg.merge_from_list(["SOLVER.MAX_ITER", "7", "OUTPUT_DIR", "/tmp/out",
                         "SOLVER.AMP.ENABLED", "True", "TEST.KS", "(5, 10)"])
    assert cfg.SOLVER.MAX_ITER == 7 and cfg.OUTPUT_DIR == "/tmp/out"
    assert cfg.SOLVER.AMP.ENABLED is True and tuple(cfg.TEST.KS) == (5, 10)
    assert get_cfg().SOLVER.MAX_ITER != 7  # defaults are not mutated


@pytest.mark.parametrize("key", ["SOLVER.BASE_LRR", "FOO.BAR", "DATASETS.VG.NOPE"])
def test_unknown_override_names_key(key):
    with pytest.raises(KeyError, match=key.replace(".", r"\.")):
        get_cfg().merge_from_list([key, "1"])


def test_unknown_yaml_key_names_key(tmp_path):
    f = _write(tmp_path / "bad.yaml", "SOLVER:\n  MOMENTUMM: 0.9\n")
    with pytest.raises(KeyError, match=r"SOLVER\.MOMENTUMM"):
        get_cfg().merge_from_file(f)


@pytest.mark.parametrize("key,value", [("SOLVER.MAX_ITER", "abc"), ("SOLVER.MAX_ITER", "1.5"),
                                       ("SOLVER.AMP.ENABLED", "1"), ("TEST.KS", "5"),
                                       ("SOLVER", "3")])
def test_wrong_type_names_key(key, value):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        get_cfg().merge_from_list([key, value])


def test_wrong_type_in_yaml(tmp_path):
    f = _write(tmp_path / "bad.yaml", "SOLVER:\n  IMS_PER_BATCH: eight\n")
    with pytest.raises(ConfigError, match=r"SOLVER\.IMS_PER_BATCH expects int"):
        get_cfg().merge_from_file(f)


def test_every_default_key_is_commented():
    import inspect
    import re

    from pyg_sgg.config import defaults
    lines = inspect.getsource(defaults).splitlines()
    for i, ln in enumerate(lines):
        m = re.match(r"_C\.([A-Z_.]+) = (?!CN\(\))", ln)
        if m and not m.group(1).startswith("VG.") and i > 0:
            prev = lines[i - 1].strip()
            group = re.match(r"_C\.[A-Z_.]+ = ", lines[i - 1])
            assert prev.startswith("#") or group, f"{m.group(1)} has no comment"


def test_shipped_configs_load():
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "detectron_configs"
    files = [p for p in root.rglob("*.yaml") if "detector" not in p.parts]
    assert files, "no configs shipped"
    for f in files:
        cfg = get_cfg()
        cfg.merge_from_file(str(f))


def test_string_keys_stay_strings_and_frozen_fails():
    cfg = get_cfg()
    cfg.merge_from_list(["OUTPUT_DIR", "123", "MODEL.WEIGHTS", "1e-3"])
    assert cfg.OUTPUT_DIR == "123" and cfg.MODEL.WEIGHTS == "1e-3"
    cfg.freeze()
    with pytest.raises(AttributeError):
        cfg.merge_from_list(["SEED", "1"])
