"""Write ``ebm_golden.pt``: energies, input gradients and SGLD chains computed by the EBM
authors' unmodified ``GraphEnergyModel`` and ``SGLD`` (mods333/energy-based-scene-graph).

Only numbers are saved (inputs, the authors' randomly initialised weights, outputs); their
code is read from a local copy and never committed. The authors' modules import
maskrcnn_benchmark (registries, a post-processor the energy model never calls) and
torch_scatter; this script puts stand-ins for those imports in ``sys.modules`` (a registry,
``torch.cat``, PyG's ``scatter`` for ``torch_scatter.scatter``, ``None`` for the box helpers
of Motifs that the functions used here do not call) and loads the authors' files
as they are::

    git --git-dir /path/to/energy-based-scene-graph.git archive HEAD \\
        maskrcnn_benchmark/modeling/energy_head | tar -x -C /tmp/ebm
    python tests/golden/make_ebm_golden.py /tmp/ebm/maskrcnn_benchmark/modeling/energy_head
"""
import argparse
import importlib.util
import sys
import types
from pathlib import Path

import torch
from import_stubs import Registry, stub_maskrcnn_benchmark, stub_module  # tests/golden/

HERE = Path(__file__).resolve().parent
WIDTH, IMG, OBJ, REL = 32, 24, 7, 6  # hidden width, RoI feature, classes incl. background
COUNTS = (4, 1, 3)  # objects per image; every ordered pair within an image is an edge


def _stub_imports():
    from torch_geometric.utils import scatter as pyg_scatter

    module = stub_module
    stub_maskrcnn_benchmark(SAMPLER=Registry(), ENERGY_MODELS=Registry())
    module("maskrcnn_benchmark.modeling.make_layers", make_fc=None)
    module("maskrcnn_benchmark.modeling.roi_heads.relation_head", __path__=[])
    module("maskrcnn_benchmark.modeling.roi_heads.relation_head.inference",
           make_roi_relation_post_processor=lambda cfg: None)
    module("maskrcnn_benchmark.modeling.roi_heads.relation_head.utils_motifs",
           encode_box_info=None, to_onehot=None)  # only used by functions not called here
    module("torch_scatter", scatter=lambda src, index, dim=0, dim_size=None, reduce="sum":
           pyg_scatter(src, index, dim, dim_size, reduce))


def _load(energy_head: Path):
    pkg = "maskrcnn_benchmark.modeling.energy_head"
    sys.modules[pkg] = types.ModuleType(pkg)
    sys.modules[pkg].__path__ = [str(energy_head)]
    out = {}
    for name in ("graph", "layers", "pooling", "sampler", "utils", "model_ebm"):
        spec = importlib.util.spec_from_file_location(f"{pkg}.{name}", energy_head / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
        out[name] = mod
    return out


def _config(mode):
    ns = types.SimpleNamespace
    return ns(DATASETS=ns(NUM_OBJ_CLASSES=OBJ, NUM_REL_CLASSES=REL),
              MODEL=ns(ROI_RELATION_HEAD=ns(
                  USE_GT_BOX=True, USE_GT_OBJECT_LABEL=mode == "predcls",
                  EBM=ns(OBJ_EMBED_DIM=WIDTH, REL_EMBED_DIM=WIDTH, POOLING_DIM=WIDTH))),
              SAMPLER=ns(LR=1.0, VAR=0.0, GRAD_CLIP=0.01, ITERS=20))


def _inputs(gen):
    batch = torch.repeat_interleave(torch.arange(len(COUNTS)), torch.tensor(COUNTS))
    n = batch.numel()
    same = (batch[:, None] == batch[None]) & ~torch.eye(n, dtype=torch.bool)
    pairs = same.nonzero()  # [E, 2] subject, object
    return dict(x_img=torch.randn(n, IMG, generator=gen),
                x_sg=torch.rand(n, OBJ, generator=gen), pos=torch.rand(n, 9, generator=gen),
                pairs=pairs, rel_logits=torch.randn(pairs.size(0), REL, generator=gen) * 3,
                obj_logits=torch.randn(n, OBJ, generator=gen) * 3, batch=batch,
                edge_batch=batch[pairs[:, 0]])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("energy_head", type=Path, help="the authors' energy_head folder")
    p.add_argument("--out", type=Path, default=HERE / "ebm_golden.pt")
    args = p.parse_args()
    _stub_imports()
    mods = _load(args.energy_head)
    Graph, SGLD = mods["graph"].Graph, mods["sampler"].SGLD
    normalize = mods["utils"].normalize_states

    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    inp = _inputs(gen)
    model = mods["model_ebm"].GraphEnergyModel(_config("predcls"), IMG).train()
    weights = {k: v.clone() for k, v in model.state_dict().items()}

    def graphs(x_img, x_sg, edge_attr):
        sg = Graph(x_sg, inp["pairs"], inp["batch"], edge_attr, inp["edge_batch"])
        return Graph(x_img, inp["pairs"], inp["batch"]), sg

    # 1. energies and their input gradients (train mode: BatchNorm on batch statistics)
    x_img = inp["x_img"].clone().requires_grad_()
    x_sg = inp["x_sg"].clone().requires_grad_()
    pos = inp["pos"].clone().requires_grad_()
    edge_attr = normalize(inp["rel_logits"]).detach().requires_grad_()
    im, sg = graphs(x_img, x_sg, edge_attr)
    energy = model(im, sg, pos).view(-1)
    grads = torch.autograd.grad(energy.sum(), [x_img, x_sg, pos, edge_attr])
    out = {"inputs": inp, "weights": weights, "edge_attr": edge_attr.detach(),
           "energy": energy.detach(),
           "grads": dict(zip(("x_img", "x_sg", "pos", "edge_attr"), grads))}

    # 2. one 20-step SGLD chain per mode, noise off; gradients of a fixed readout of the
    # sample with respect to the base model's logits (the optimisation path)
    w_rel = torch.randn(inp["pairs"].size(0), REL, generator=gen)
    w_obj = torch.randn(len(inp["batch"]), OBJ, generator=gen)
    for mode in ("predcls", "sgcls"):
        model.load_state_dict(weights)
        sampler = SGLD(_config(mode))
        rel = inp["rel_logits"].clone().requires_grad_()
        obj = inp["obj_logits"].clone().requires_grad_()
        nodes = inp["x_sg"].clone() if mode == "predcls" else normalize(obj)
        im, sg = graphs(inp["x_img"], nodes, normalize(rel))
        sg = sampler.sample(model, im, sg, inp["pos"], mode)
        readout = (sg.edge_states * w_rel).sum()
        wrt = [rel]
        if mode != "predcls":
            readout = readout + (sg.node_states * w_obj).sum()
            wrt.append(obj)
        g = torch.autograd.grad(readout, wrt)
        out[f"sgld_{mode}"] = {"edge_states": sg.edge_states.detach(),
                               "node_states": sg.node_states.detach(),
                               "grad_rel_logits": g[0],
                               "grad_obj_logits": g[1] if len(g) > 1 else None}
    out["readout"] = {"w_rel": w_rel, "w_obj": w_obj}
    torch.save(out, args.out)
    print(f"wrote {args.out}: energies {out['energy'].tolist()}")


if __name__ == "__main__":
    main()
