"""How close the frequency-derived HML class weights come to the authors' published VG150
vectors, at the genuine VG150 dictionary's predicate counts (whole-dataset counts; the
authors' training-split counts are not published).

Both vectors are scaled to agree on ``on``; printed per stage and mode: the median, min and
max ratio ours / authors over the stage's classes, the mean |log10 ratio|, the
log-correlation, the background weight relative to ``on``, and the three largest gaps::

    python benchmarks/hml_class_weights.py
"""
import json
from pathlib import Path

import numpy as np
import torch

from pyg_sgg.methods.class_weights import stage_class_weights
from pyg_sgg.methods.hml_vg150_weights import HML_VG150_WEIGHTS
from pyg_sgg.methods.predicate_hierarchy import predicate_stages

DICTS = Path(__file__).resolve().parents[1] / "tests" / "golden" / "VG-SGG-dicts-with-attri.json"


def main():
    d = json.loads(DICTS.read_text())
    names = ["__background__"] + [d["idx_to_predicate"][str(i)] for i in range(1, 51)]
    counts = [0] + [d["predicate_count"][n] for n in names[1:]]
    table = {n: (a, b) for n, a, b in HML_VG150_WEIGHTS}
    authors = [np.array([table[n][s] for n in names]) for s in (0, 1)]
    stages = predicate_stages(torch.tensor(counts, dtype=torch.float64), [10])
    on = names.index("on")
    print(f"{'mode':<10} {'stage':>5} {'median':>7} {'min':>6} {'max':>6} {'|log10|':>8} "
          f"{'log-corr':>8} {'bg/on ours':>10} {'bg/on authors':>13}  largest gaps")
    for mode in ("inverse", "effective"):
        for s in (0, 1):
            w = stage_class_weights(counts, stages[s], mode).double().numpy()
            a = authors[s]
            m = a > 0
            r = (w[m] / w[on]) / (a[m] / a[on])
            idx = np.flatnonzero(m)
            worst = np.argsort(-np.abs(np.log10(r)))[:3]
            gaps = ", ".join(f"{names[idx[j]]} {r[j]:.2f}" for j in worst)
            corr = np.corrcoef(np.log(w[m]), np.log(a[m]))[0, 1]
            print(f"{mode:<10} {s:>5} {np.median(r):7.2f} {r.min():6.2f} {r.max():6.2f} "
                  f"{np.abs(np.log10(r)).mean():8.2f} {corr:8.3f} {w[0] / w[on]:10.3f} "
                  f"{a[0] / a[on]:13.3f}  {gaps}")


if __name__ == "__main__":
    main()
