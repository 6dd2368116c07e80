import pytest
import torch

from pyg_sgg.checkpoint_io import load_model_state, read_checkpoint
from pyg_sgg.errors import CheckpointError


def test_unreadable_files_fail_naming_them(tmp_path):
    bad = {"text.pth": b"hello", "empty.pth": b""}
    torch.save({"model": {}}, tmp_path / "ok.pth")
    bad["truncated.pth"] = (tmp_path / "ok.pth").read_bytes()[:40]
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError, match=rf"{name}: not a readable checkpoint"):
            read_checkpoint(tmp_path / name)
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="list.pth: not a checkpoint \\(a list"):
        read_checkpoint(tmp_path / "list.pth")


def test_a_state_of_another_model_is_one_line():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    other = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Linear(5, 2),
                                torch.nn.Linear(2, 2))
    with pytest.raises(CheckpointError) as e:
        load_model_state(model, {"model": other.state_dict()}, "run/model_final.pth")
    msg = str(e.value)
    assert msg.startswith("run/model_final.pth: does not fit the model of this config: ")
    assert "2 unexpected (e.g. 2.weight)" in msg and "3 of another shape (e.g. 0.weight: " \
        "[5, 4] in the file, [3, 4] in the model)" in msg and "\n" not in msg
    good = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    load_model_state(model, good.state_dict(), "bare.pth")  # a bare state dict also loads
    assert torch.equal(model[0].weight, good[0].weight)
