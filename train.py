#!/usr/bin/env python
"""Train a scene graph model (or its detector) — detectron2-style flags.

    python train.py --method ebm                          # SynthVG end to end
    python train.py --config-file detectron_configs/motifs/predcls_hml.yaml
    python train.py --task detector                       # only the detector
    python train.py --method ce --resume                  # continue the last run
    torchrun --nproc_per_node 2 train.py --method ce      # DDP (gloo on CPU, NCCL on GPU)
"""
import logging
import sys

from pyg_sgg.config import ConfigError
from pyg_sgg.engine import distributed as du
from pyg_sgg.engine.defaults import (default_argument_parser, fail, one_line,
                                     setup_cfg, setup_logging)
from pyg_sgg.engine.validation import check_resume
from pyg_sgg.errors import CheckpointError, DatasetFormatError


def main(args):
    setup_logging()
    try:
        cfg = setup_cfg(args)
        if args.resume and args.task != "detector" and not check_resume(cfg):
            logging.getLogger("train").warning("--resume: no checkpoint in %s; starting from "
                                               "scratch", cfg.OUTPUT_DIR)
    except (KeyError, ConfigError, FileNotFoundError) as e:
        fail(str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e))
    from pyg_sgg.engine import pipeline
    try:
        if args.task == "detector":
            res = pipeline.train_detector(cfg, resume=args.resume)
            if du.is_main_process() and res.get("metrics"):
                print(pipeline.format_table(res["metrics"], "detector"))
            return
        pipeline.run_sgg(cfg, resume=args.resume, eval_only=args.eval_only)
    except (FileNotFoundError, DatasetFormatError, CheckpointError) as e:  # a user's file
        fail(one_line(e))
    except FloatingPointError as e:  # a NaN / inf loss or gradient: which, when, where to resume
        fail(str(e), code=3)
    except KeyboardInterrupt as e:  # SIGINT / SIGTERM: the trainer saved a checkpoint first
        fail(f"interrupted: {e}" if str(e) else "interrupted", code=130)


if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    du.launch(main, args.num_gpus, num_machines=args.num_machines,
              machine_rank=args.machine_rank, dist_url=args.dist_url, args=(args,))
    sys.exit(0)
