import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from pyg_sgg.engine.checkpoint import Checkpointer, atomic_save


def test_atomic_save_roundtrip(tmp_path):
    path = tmp_path / "a" / "ckpt.pth"
    atomic_save({"w": torch.arange(3)}, path)
    assert torch.equal(torch.load(path)["w"], torch.arange(3))
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pth"]


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pth"
    atomic_save({"v": 1}, path)

    def broken_save(obj, f):
        f.write(b"partial bytes")
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk full"):
        atomic_save({"v": 2}, path)
    monkeypatch.undo()
    assert torch.load(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pth"]  # temp file removed


@pytest.mark.parametrize("existing", [False, True])
def test_sigkill_mid_write_leaves_no_partial_file(tmp_path, existing):
    path = tmp_path / "model_0000010.pth"
    if existing:
        atomic_save({"v": 1}, path)
    script = textwrap.dedent(f"""
        import os, signal, torch
        from pyg_sgg.engine.checkpoint import atomic_save
        def dying_save(obj, f):
            f.write(b"x" * 1000); f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        torch.save = dying_save
        atomic_save({{"v": 2}}, {str(path)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    if existing:
        assert torch.load(path) == {"v": 1}
    else:
        assert not path.exists()
    ck = Checkpointer(tmp_path)
    assert ck.remove_stale_temp_files() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ([path.name] if existing else [])


def test_checkpointer_last_and_pruning(tmp_path):
    ck = Checkpointer(tmp_path, max_to_keep=2)
    assert ck.last_checkpoint() is None
    for it in (5, 10, 15):
        ck.save(f"model_{it:07d}", {"it": it})
    ck.save("model_best", {"it": 10}, tag_last=False)
    assert ck.last_checkpoint().name == "model_0000015.pth"
    assert sorted(p.name for p in tmp_path.glob("*.pth")) == [
        "model_0000010.pth", "model_0000015.pth", "model_best.pth"]
    assert Checkpointer.load(ck.last_checkpoint())["it"] == 15
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        Checkpointer.load(tmp_path / "nope.pth")
