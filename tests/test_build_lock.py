"""Two processes that need the same artefact: one builds, the other waits and reuses it."""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUILDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from pyg_sgg.build_lock import build_lock
    target, log = Path(sys.argv[1]), Path(sys.argv[2])
    with build_lock(target):
        if not target.exists():
            time.sleep(1.0)                      # a slow build
            target.write_text("built")
            with open(log, "a") as f:
                f.write("build\\n")
    print(target.read_text())
""")

GENERATE = textwrap.dedent("""
    import sys
    from pathlib import Path
    import importlib
    g = importlib.import_module("pyg_sgg.data.synthvg.generate")  # the module, not the function
    real = g.generate
    def counted(*a, **k):
        with open(sys.argv[2], "a") as f:
            f.write("generate\\n")
        return real(*a, **k)
    g.generate = counted
    root = g.ensure_dataset(root=Path(sys.argv[1]), num_images=12, seed=3, progress=False)
    print(sorted(p.name for p in root.iterdir()))
""")


def _both(code, *argv):
    procs = [subprocess.Popen([sys.executable, "-c", code, *map(str, argv)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    return [o[0] for o in outs]


def test_one_builder_the_other_waits(tmp_path):
    outs = _both(BUILDER, tmp_path / "artefact", tmp_path / "log")
    assert outs == ["built\n", "built\n"]
    assert (tmp_path / "log").read_text() == "build\n"


def test_two_runs_generating_the_same_synthvg_generate_it_once(tmp_path):
    outs = _both(GENERATE, tmp_path / "synthvg", tmp_path / "log")
    assert outs[0] == outs[1] and "VG-SGG-with-attri.h5" in outs[0]
    assert (tmp_path / "log").read_text() == "generate\n"


KILLED = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import importlib
    g = importlib.import_module("pyg_sgg.data.synthvg.generate")
    real = g.generate
    def generate_then_die(out, *a, **k):
        real(out, *a, **k)              # the temporary folder is complete...
        os.kill(os.getpid(), signal.SIGKILL)   # ...and the process dies before the rename
    g.generate = generate_then_die
    g.ensure_dataset(root=Path(sys.argv[1]), num_images=12, seed=3, progress=False)
""")


def test_a_killed_generation_leaves_nothing_that_is_read_and_no_leftover(tmp_path):
    root = tmp_path / "synthvg"
    done = subprocess.run([sys.executable, "-c", KILLED, str(root)], cwd=ROOT)
    assert done.returncode == -9
    assert not root.exists() and list(tmp_path.glob(".synthvg.tmp*"))  # only the temp
    from pyg_sgg.data.synthvg.generate import ensure_dataset
    again = ensure_dataset(root=root, num_images=12, seed=3, progress=False)
    assert not list(tmp_path.glob(".synthvg.tmp*"))  # the killed build's folder is gone
    other = ensure_dataset(root=tmp_path / "fresh", num_images=12, seed=3, progress=False)
    for f in ("VG-SGG-with-attri.h5", "image_data.json", "VG-SGG-dicts-with-attri.json"):
        assert (again / f).read_bytes() == (other / f).read_bytes()  # = an uninterrupted run
