"""Script plumbing shared by ``train.py`` and ``evaluate.py`` (detectron2-style)."""
import argparse
import os
from pathlib import Path

from ..config import get_cfg
from ..paths import cache_dir
from .console import fail, one_line, setup_logging  # noqa: F401 (the scripts import them here)
from .validation import check_config

__all__ = ["default_argument_parser", "setup_cfg", "setup_logging", "default_output_dir"]


def default_argument_parser(epilog: str = None) -> argparse.ArgumentParser:
    """detectron2's flags plus ``--method`` and ``--task``.

    ``--config-file``, ``--resume``, ``--eval-only``, ``--num-gpus`` (processes per machine;
    CPU processes with gloo when there is no GPU), ``--num-machines``, ``--machine-rank``,
    ``--dist-url``, trailing ``KEY VALUE`` overrides.
    """
    p = argparse.ArgumentParser(
        epilog=epilog or ("Examples:\n  python train.py --method ebm\n"
                          "  python train.py --config-file detectron_configs/motifs/"
                          "predcls_ce.yaml SOLVER.MAX_ITER 100\n"
                          "  torchrun --nproc_per_node 2 train.py --method ce"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", default="", metavar="FILE", help="path to a YAML config")
    p.add_argument("--resume", action="store_true",
                   help="continue from the last checkpoint in OUTPUT_DIR (if any)")
    p.add_argument("--eval-only", action="store_true", help="only evaluate (MODEL.WEIGHTS "
                   "or, with --resume, the last checkpoint)")
    p.add_argument("--num-gpus", type=int, default=1,
                   help="processes per machine (GPUs; CPU processes without CUDA)")
    p.add_argument("--num-machines", type=int, default=1, help="total number of machines")
    p.add_argument("--machine-rank", type=int, default=0, help="this machine's rank")
    p.add_argument("--dist-url", default="auto",
                   help="tcp://host:port of machine 0; 'auto' = a free local port")
    p.add_argument("--method", default=None,
                   help="training method(s) from METHOD_REGISTRY, combined with '+' "
                        "(ce, ebm, hml, hml+ebm, ...); overrides SGG.METHOD")
    p.add_argument("--task", default="sgg", choices=("sgg", "detector"),
                   help="train the relation model (default) or the detector")
    p.add_argument("opts", default=None, nargs=argparse.REMAINDER,
                   help="KEY VALUE config overrides, e.g. SOLVER.BASE_LR 0.01")
    return p


def default_output_dir(cfg, config_file: str = "") -> Path:
    stem = Path(config_file).stem if config_file else "synthvg"
    method = cfg.SGG.METHOD.replace("+", "-")
    name = stem if method in stem else f"{stem}_{method}"
    if cfg.SGG.TASK not in name:
        name = f"{name}_{cfg.SGG.TASK}"
    return cache_dir() / "runs" / name


def setup_cfg(args):
    """Defaults ← ``--config-file`` ← ``--method`` ← trailing overrides, checked
    (:func:`~pyg_sgg.engine.validation.check_config`: names and paths, before any work);
    frozen."""
    cfg = get_cfg()
    if args.config_file:
        if not os.path.isfile(args.config_file):
            raise FileNotFoundError(f"{args.config_file}: config file not found")
        cfg.merge_from_file(args.config_file)
    if getattr(args, "method", None):
        cfg.SGG.METHOD = args.method
    cfg.merge_from_list(args.opts or [])
    check_config(cfg, job=getattr(args, "task", "sgg"))
    if not cfg.OUTPUT_DIR:
        cfg.OUTPUT_DIR = str(default_output_dir(cfg, args.config_file))
    cfg.freeze()
    return cfg
