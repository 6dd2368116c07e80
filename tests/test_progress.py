import logging

from pyg_sgg.progress import progress


def test_progress_logs_when_not_a_terminal(caplog, monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: False, raising=False)
    with caplog.at_level(logging.INFO, logger="pyg_sgg.progress"):
        assert list(progress(5, "features predcls", every_s=0.0)) == [0, 1, 2, 3, 4]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5 and lines[-1].startswith("features predcls: 5 / 5 (")
    assert "about 0 s left" in lines[-1]


def test_progress_says_nothing_when_disabled_or_rare(caplog, monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: False, raising=False)
    with caplog.at_level(logging.INFO, logger="pyg_sgg.progress"):
        assert list(progress(3, "x", enabled=False)) == [0, 1, 2]
        assert list(progress(0, "x")) == []
        assert list(progress(4, "y", every_s=1e9)) == [0, 1, 2, 3]
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["y: 4 / 4"]
