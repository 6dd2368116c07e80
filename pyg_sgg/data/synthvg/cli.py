"""The generator's command line::

    python -m pyg_sgg.data.synthvg --out DIR --num-images 4000 --seed 0
"""
import argparse
from pathlib import Path

from .config import SynthConfig
from .generate import default_root, generate
from .report import format_report


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate SynthVG + SynthCOCO.")
    ap.add_argument("--out", default=None, help="output folder (default: the cache folder)")
    ap.add_argument("--num-images", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--coarse-prob", type=float, default=SynthConfig.coarse_prob)
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else default_root(args.num_images, args.seed)
    cfg = SynthConfig(coarse_prob=args.coarse_prob)
    rep = generate(out, args.num_images, args.seed, cfg, workers=args.workers)
    print(format_report(rep))
    print(f"written to {out}")


