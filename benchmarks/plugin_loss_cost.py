"""Cost of the seed-002 plug-in losses against plain CE: a whole training step (model
forward, loss, backward, SGD) and the loss alone (its forward + backward on fixed model
outputs), measured interleaved in one run (minimum over repeats: robust to machine load).

Same :class:`~pyg_sgg.models.SceneGraphModel` and sampled batch for every loss; synthetic
VG-sized inputs (150 classes, 50 predicates), nothing downloaded. Example::

    python benchmarks/plugin_loss_cost.py --threads 2
    python benchmarks/plugin_loss_cost.py --images 16 --objects 20

CMAT's row also gives its counterfactual reward evaluations per step (agents x labels
tried: 4 per agent in the authors' approximation, C + 1 exact).
"""
import argparse
import time

import torch
from hml_cost import add_size_args, synthetic_batch, synthetic_model

from pyg_sgg.config import get_cfg
from pyg_sgg.methods import build_method

LOSSES = {"ce": ("ce", []), "gcl": ("gcl", []), "baikal": ("baikal", []),
          "baikal_cma": ("baikal", ["BAIKAL.FORM", "baikal_cma"]), "disc": ("disc", []),
          "cmat": ("cmat", []), "cmat_exact": ("cmat", ["CMAT.EXACT", "True"])}


def main():
    p = add_size_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]), images=8)
    p.add_argument("--task", default="sgcls", choices=["predcls", "sgcls"])
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    C, P = a.classes, a.predicates
    model = synthetic_model(a, a.task)
    batch = synthetic_batch(a.images, a.objects, a.feat_dim, C, P)
    batch.edge_attr = torch.randn(batch.edge_index.size(1), a.feat_dim)
    batch = model.prepare_batch(batch, torch.Generator().manual_seed(0))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    methods = {}
    for name, (method, opts) in LOSSES.items():
        cfg = get_cfg()
        cfg.merge_from_list(["SGG.TASK", a.task, *opts])
        methods[name] = build_method(method, cfg)
        methods[name].stages(0)  # CMAT: straight to its second stage

    def step(method):
        opt.zero_grad(set_to_none=True)
        sum(method.loss(model, batch, model(batch)).values()).backward()
        opt.step()

    with torch.no_grad():
        fixed = model(batch)
    rel = fixed.rel_logits.detach()
    obj = fixed.obj_logits.detach()
    states = fixed.extras["node_states"].detach()

    def loss_only(method):
        fixed.rel_logits = rel.clone().requires_grad_()
        fixed.obj_logits = obj.clone().requires_grad_()
        fixed.extras["node_states"] = states.clone().requires_grad_()
        sum(method.loss(model, batch, fixed).values()).backward()

    best = {n: [float("inf"), float("inf")] for n in methods}
    for n, m in methods.items():  # warm-up
        step(m), loss_only(m)
    for _ in range(a.repeat):
        for n, m in methods.items():
            t = time.perf_counter(); step(m); best[n][0] = min(best[n][0], time.perf_counter() - t)
            t = time.perf_counter(); loss_only(m)
            best[n][1] = min(best[n][1], time.perf_counter() - t)
    print(f"SceneGraphModel(context={a.context}, task={a.task}), {a.images} images x "
          f"{a.objects} objects, {batch.edge_index.size(1)} sampled pairs, C = {C}, P = {P}; "
          f"threads {torch.get_num_threads()}; min of {a.repeat}")
    print(f"{'loss':<11} {'step ms':>9} {'x CE':>6} {'loss ms':>9} {'x CE':>6}  reward evals")
    ce_step, ce_loss = best["ce"]
    for n, (s, l) in best.items():
        evals = getattr(methods[n], "reward_evaluations", None)
        print(f"{n:<11} {s * 1e3:9.2f} {s / ce_step:6.2f} {l * 1e3:9.3f} {l / ce_loss:6.2f}  "
              f"{evals if evals is not None else '-'}")


if __name__ == "__main__":
    main()
