"""pyg_sgg's energy model and SGLD against numbers computed by the EBM authors' unmodified
``GraphEnergyModel`` / ``SGLD`` (tests/golden/make_ebm_golden.py; only numbers are stored)."""
from pathlib import Path

import pytest
import torch

from pyg_sgg.methods.sgld import SGLD, min_max_normalize
from pyg_sgg.nn import EnergyModel

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "ebm_golden.pt"


def authors_to_pyg(weights):
    """The authors' state dict under pyg_sgg's parameter names (1x1 convolutions as
    linear layers; their unused ``rel_embeding`` / ``htheta_*`` layers dropped)."""
    rename = {
        "obj_emdedding": "img_embed", "obj_label_embedding": "node_embed",
        "rel_label_embedding": "edge_embed", "im_layer.node_kernel": "img_gnn.mlp",
        "im_layer.node_gate": "img_gnn.rnn", "sg_layer.node2node_kernel": "sg_gnn.node_mlp",
        "sg_layer.edge2node_kernel": "sg_gnn.edge_to_node_mlp",
        "sg_layer.node2edge_kernel": "sg_gnn.pair_mlp", "sg_layer.node_gate": "sg_gnn.node_rnn",
        "sg_layer.edge_gate": "sg_gnn.edge_rnn", "sg_pooler.hgate_node.0": "sg_pool.gate",
        "sg_pooler.hgate_edge.0": "sg_pool.edge_gate", "sg_pooler.poolingLayer.0": "sg_pool.lin",
        "im_pooler.hgate_node.0": "img_pool.gate", "im_pooler.poolingLayer.0": "img_pool.lin",
        "energy": "head", "pos_embed.0": "pos_embed.0", "pos_embed.1": "pos_embed.1.module",
        "pos_embed.2": "pos_embed.2"}
    out = {}
    for k, v in weights.items():
        if k.startswith(("rel_embeding", "sg_pooler.htheta", "im_pooler.htheta")):
            continue
        prefix = max((p for p in rename if k.startswith(p + ".")), key=len)
        name = rename[prefix] + k[len(prefix):]
        out[name] = v.flatten(1) if v.dim() == 4 else v
    return out


@pytest.fixture(scope="module")
def golden():
    return torch.load(GOLDEN, weights_only=False)


def build(golden):
    inp = golden["inputs"]
    w = golden["weights"]
    hidden = w["obj_emdedding.weight"].size(0)
    model = EnergyModel(inp["x_img"].size(1), inp["x_sg"].size(1), inp["rel_logits"].size(1),
                        hidden_channels=hidden, pos_channels=w["pos_embed.2.weight"].size(0))
    missing, unexpected = model.load_state_dict(authors_to_pyg(w), strict=True)
    assert not missing and not unexpected
    return model.train(), inp


def test_energies_and_input_gradients_match_the_authors(golden):
    model, inp = build(golden)
    x_img = inp["x_img"].clone().requires_grad_()
    x_sg = inp["x_sg"].clone().requires_grad_()
    pos = inp["pos"].clone().requires_grad_()
    edge_attr = golden["edge_attr"].clone().requires_grad_()
    energy = model(x_img, x_sg, pos, inp["pairs"].t(), edge_attr, inp["batch"],
                   num_graphs=int(inp["batch"].max()) + 1)
    # the energies are ~0.03 and the gradients ~1e-4 at this width: tolerances well below
    # the effect of any change to the layers (a different EGNN alpha moves E by 5e-5)
    torch.testing.assert_close(energy.detach(), golden["energy"], atol=1e-6, rtol=1e-5)
    grads = torch.autograd.grad(energy.sum(), [x_img, x_sg, pos, edge_attr])
    for name, g in zip(("x_img", "x_sg", "pos", "edge_attr"), grads):
        torch.testing.assert_close(g, golden["grads"][name], atol=1e-8, rtol=1e-4)


@pytest.mark.parametrize("mode", ["predcls", "sgcls"])
def test_sgld_chain_matches_the_authors(golden, mode):
    """20 steps (their README run: LR 1.0, GRAD_CLIP 0.01), noise off, eps 0 as coded."""
    model, inp = build(golden)
    ref = golden[f"sgld_{mode}"]
    edge_index, batch = inp["pairs"].t(), inp["batch"]
    B = int(batch.max()) + 1
    rel = inp["rel_logits"].clone().requires_grad_()
    obj = inp["obj_logits"].clone().requires_grad_()
    nodes = inp["x_sg"].clone() if mode == "predcls" else min_max_normalize(obj, 0.0)

    def energy_fn(edge_attr, x_sg):
        return model(inp["x_img"], nodes if x_sg is None else x_sg, inp["pos"], edge_index,
                     edge_attr, batch, B)

    sampler = SGLD(step_size=1.0, num_steps=20, noise_std=0.0, grad_clip=0.01, norm_eps=0.0)
    edges, moved = sampler.sample(energy_fn, min_max_normalize(rel, 0.0),
                                  None if mode == "predcls" else nodes)
    torch.testing.assert_close(edges.detach(), ref["edge_states"], atol=1e-6, rtol=1e-5)
    readout = (edges * golden["readout"]["w_rel"]).sum()
    wrt = [rel]
    if mode != "predcls":
        torch.testing.assert_close(moved.detach(), ref["node_states"], atol=1e-6, rtol=1e-5)
        readout = readout + (moved * golden["readout"]["w_obj"]).sum()
        wrt.append(obj)
    grads = torch.autograd.grad(readout, wrt)
    torch.testing.assert_close(grads[0], ref["grad_rel_logits"], atol=1e-6, rtol=1e-4)
    if mode != "predcls":
        torch.testing.assert_close(grads[1], ref["grad_obj_logits"], atol=1e-6, rtol=1e-4)
    assert not torch.equal(edges.detach(), min_max_normalize(rel, 0.0).detach())  # it moved
