#!/usr/bin/env python
"""Score scene graph predictions.

    python evaluate.py --predictions preds.npz [...]      # a predictions file (any codebase)
    python evaluate.py --config-file CFG.yaml --checkpoint model_final.pth [--split test]
        [--output preds.npz] [KEY VALUE ...]             # run inference, write, score
    (without --config-file, the config.yaml saved next to the checkpoint is used)
"""
import argparse
import sys
from pathlib import Path

from pyg_sgg.engine.console import fail, one_line, setup_logging
from pyg_sgg.errors import CheckpointError, DatasetFormatError
from pyg_sgg.evaluation.command_line import (add_predictions_args,
                                             run_predictions)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_predictions_args(p)  # --predictions FILE.npz, --mode, --ks, --out, --plot ...
    p.add_argument("--config-file", default="", metavar="FILE", help="YAML config")
    p.add_argument("--checkpoint", default=None, metavar="FILE.pth",
                   help="relation-model checkpoint to run")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--output", default=None, metavar="FILE.npz",
                   help="where to write the predictions (default: next to the checkpoint)")
    p.add_argument("--method", default=None, help=argparse.SUPPRESS)
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    if args.checkpoint is None:
        if not args.predictions and not args.sgb_results:
            fail("give --predictions FILE.npz, --sgb-results eval_results.pytorch, or "
                 "--config-file and --checkpoint")
        try:
            run_predictions(args)
        except (FileNotFoundError, ValueError) as e:  # bad file: one line naming it
            fail(str(e))
        return 0
    # Only a checkpoint needs the config system (and torch): a predictions file starts fast.
    from pyg_sgg.config import ConfigError
    from pyg_sgg.engine.defaults import setup_cfg
    from pyg_sgg.evaluation import write_predictions
    saved = Path(args.checkpoint).with_name("config.yaml")
    if not args.config_file and saved.is_file():  # the run's own resolved config
        args.config_file = str(saved)
    try:
        cfg = setup_cfg(args)
    except (KeyError, ConfigError, FileNotFoundError) as e:
        fail(str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e))
    from pyg_sgg.engine import pipeline
    try:
        out = pipeline.run_inference(cfg, args.checkpoint, args.split)
    except (FileNotFoundError, DatasetFormatError, CheckpointError) as e:
        fail(one_line(e))
    preds = out["predictions"]
    path = Path(args.output or Path(args.checkpoint).with_name(f"predictions_{args.split}.npz"))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_predictions(path, preds)
    print(f"predictions of {len(preds.get('image_ids', []))} images written to {path}")
    if out["evaluator"] is not None:
        ev = out["evaluator"]
        ev.reset()
        ev.process(preds)
        print(pipeline.format_table(ev.evaluate(), f"{cfg.SGG.TASK} on {args.split}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
