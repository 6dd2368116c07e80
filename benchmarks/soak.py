"""Soak test: train for N minutes in one process, cycling through every method and task on the
tiny quick-schedule SynthVG, and report resident memory (RSS) and open file handles after each
run. Target: both flat after the first cycle (warm-up: caches, imports, allocator pools).

    python benchmarks/soak.py --minutes 10
    python benchmarks/soak.py --minutes 2 --methods ce gcl --tasks predcls
"""
import argparse
import contextlib
import io
import itertools
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mib() -> float:
    """Resident set size of this process (Linux ``/proc``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--methods", nargs="+",
                   default=["ce", "ebm", "hml", "hml+ebm", "gcl", "baikal", "disc", "cmat"])
    p.add_argument("--tasks", nargs="+", default=["predcls", "sgcls", "sgdet"])
    p.add_argument("--iters", type=int, default=20, help="iterations per run")
    a = p.parse_args()

    from pyg_sgg.config import get_cfg
    from pyg_sgg.engine import pipeline
    from pyg_sgg.engine.defaults import setup_logging
    setup_logging()
    work = Path(tempfile.mkdtemp(prefix="pyg_sgg_soak_"))
    combos = itertools.cycle(itertools.product(a.tasks, a.methods))
    deadline = time.monotonic() + 60 * a.minutes
    rows, k = [], 0
    print(f"{'run':>4} {'task':<8} {'method':<9} {'s':>6} {'RSS MiB':>8} {'open fds':>8}")
    while time.monotonic() < deadline:
        task, method = next(combos)
        cfg = get_cfg()
        cfg.merge_from_file(str(ROOT / "detectron_configs" / "quick_schedules"
                                / f"{task}_ce_instant.yaml"))
        cfg.merge_from_list(["SGG.METHOD", method, "SOLVER.MAX_ITER", str(a.iters),
                             "SOLVER.STEPS", f"({a.iters},)", "TEST.EVAL_PERIOD", "0",
                             "OUTPUT_DIR", str(work / f"run{k}")])
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the metric tables
            pipeline.run_sgg(cfg)
        rows.append((k, task, method, time.perf_counter() - t, rss_mib(), open_files()))
        print(f"{k:>4} {task:<8} {method:<9} {rows[-1][3]:6.1f} {rows[-1][4]:8.0f} "
              f"{rows[-1][5]:8d}", flush=True)
        k += 1
    cycle = len(a.tasks) * len(a.methods)
    if len(rows) > cycle:
        first, last = rows[cycle - 1], rows[-1]
        print(f"after warm-up (run {cycle - 1} -> {len(rows) - 1}): RSS {first[4]:.0f} -> "
              f"{last[4]:.0f} MiB ({last[4] - first[4]:+.0f}), open files {first[5]} -> "
              f"{last[5]} ({last[5] - first[5]:+d})")
    else:
        print(f"fewer runs ({len(rows)}) than one cycle ({cycle}): raise --minutes")


if __name__ == "__main__":
    main()
