"""The seed-002 loss methods (gcl, baikal, disc) train a real model in every task and compose
with the others."""
import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from pyg_sgg.config import get_cfg
from pyg_sgg.losses import (baikal_loss, baikal_row_losses,
                            discriminative_loss, graphical_contrastive_losses)
from pyg_sgg.methods import ComposedMethod, Method, build_method

from ..models.conftest import random_graph
from ..models.test_scene_graph_model import build

MODES = ["predcls", "sgcls", "sgdet"]


def _cfg(task, *opts):
    cfg = get_cfg()
    cfg.merge_from_list(["SGG.TASK", task, *opts])
    return cfg


def _data(mode, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [random_graph(n, 4, g, mode == "sgdet", i) for i, n in enumerate((5, 4, 6, 1))]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["gcl", "baikal", "disc"])
def test_one_step_in_every_task(name, mode):
    model = build(mode, "motifs")
    batch = Batch.from_data_list(_data(mode, seed=1))
    model.train().prepare_batch(batch, torch.Generator().manual_seed(0))
    losses = build_method(name, _cfg(mode)).loss(model, batch, model(batch))
    sum(losses.values()).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name, mode", [("gcl", "predcls"), ("gcl", "sgdet"),
                                        ("baikal", "sgcls"), ("disc", "sgcls")])
def test_method_trains_the_model(name, mode):
    model = build(mode, "motifs")
    method = build_method(name, _cfg(mode))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    data = _data(mode)
    totals, keys = [], None
    for _ in range(20):
        batch = Batch.from_data_list(data)
        model.train().prepare_batch(batch, g)
        losses = method.loss(model, batch, model(batch))
        keys = set(losses)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        opt.step()
        totals.append(float(loss.detach()))
    assert np.mean(totals[-4:]) < 0.85 * np.mean(totals[:4]), totals
    extra = {"gcl": {"loss_gcl_agnostic", "loss_gcl_entity", "loss_gcl_predicate"},
             "baikal": set(), "disc": {"loss_disc"}}[name]
    assert extra <= keys and "loss_rel" in keys


def test_gcl_terms_are_the_operator_on_the_batch():
    model = build("sgcls", "motifs")
    batch = Batch.from_data_list(_data("sgcls"))
    model.train().prepare_batch(batch, torch.Generator().manual_seed(0))
    out = model(batch)
    losses = build_method("gcl", _cfg("sgcls", "GCL.WEIGHTS", "[2.0, 0.0, 1.0]"))
    losses = losses.loss(model, batch, out)
    ref = graphical_contrastive_losses(out.rel_logits, batch.edge_index, batch.edge_label,
                                       out.extras["obj_target"])
    torch.testing.assert_close(losses["loss_gcl_agnostic"],
                               2 * (ref["agnostic_subject"] + ref["agnostic_object"]))
    assert float(losses["loss_gcl_entity"].detach()) == 0.0
    assert float(ref["agnostic_subject"]) > 0  # random init: margins are violated


def test_baikal_replaces_the_cross_entropies():
    model = build("sgcls", "motifs")
    batch = Batch.from_data_list(_data("sgcls"))
    model.train().prepare_batch(batch, torch.Generator().manual_seed(0))
    out = model(batch)
    for form in ("baikal", "baikal_cma"):
        losses = build_method("baikal", _cfg("sgcls", "BAIKAL.FORM", form)).loss(model, batch, out)
        torch.testing.assert_close(losses["loss_rel"],
                                   baikal_loss(out.rel_logits, batch.edge_label, form=form))
        torch.testing.assert_close(losses["loss_obj"],
                                   baikal_loss(out.obj_logits, out.extras["obj_target"], form=form))
    fg = build_method("baikal", _cfg("sgcls", "BAIKAL.REL_ROWS", "foreground", "BAIKAL.OBJECTS",
                                     "False")).loss(model, batch, out)
    label = batch.edge_label
    rows = torch.where(label > 0, baikal_row_losses(out.rel_logits, label),
                       torch.nn.functional.cross_entropy(out.rel_logits, label, reduction="none"))
    torch.testing.assert_close(fg["loss_rel"], rows.mean())
    torch.testing.assert_close(fg["loss_obj"], torch.nn.functional.cross_entropy(
        out.obj_logits, out.extras["obj_target"]))


def test_disc_clusters_node_states_by_class():
    model = build("sgdet", "motifs")
    batch = Batch.from_data_list(_data("sgdet"))
    model.train().prepare_batch(batch, torch.Generator().manual_seed(0))
    out = model(batch)
    losses = build_method("disc", _cfg("sgdet", "DISC.WEIGHT", "2.0")).loss(model, batch, out)
    target = out.extras["obj_target"]
    want = discriminative_loss(out.extras["node_states"], target.where(target > 0, -1))
    torch.testing.assert_close(losses["loss_disc"], 2 * want["loss"])
    per_image = build_method("disc", _cfg("sgdet", "DISC.PER_IMAGE", "True"))
    got = per_image.loss(model, batch, out)["loss_disc"]
    torch.testing.assert_close(got, discriminative_loss(
        out.extras["node_states"], target.where(target > 0, -1), batch.batch)["loss"])


class _Task(Method):
    name = "task"

    def loss(self, model, batch, outputs):
        return {"loss_rel": torch.tensor(7.0)}


def test_auxiliary_methods_leave_the_task_loss_to_the_other():
    batch = Batch.from_data_list(_data("predcls"))
    model = build("predcls", "motifs")
    model.train().prepare_batch(batch, torch.Generator().manual_seed(0))
    out = model(batch)
    gcl = build_method("gcl", _cfg("predcls"))
    for order in ([gcl, _Task()], [_Task(), gcl]):
        losses = ComposedMethod(order).loss(model, batch, out)
        assert float(losses["loss_rel"]) == 7.0 and "loss_gcl_agnostic" in losses


def test_compositions_build_from_config():
    cfg = _cfg("sgcls")
    for name in ("gcl+ebm", "disc+gcl", "baikal+ebm", "baikal+gcl+disc"):
        m = build_method(name, cfg)
        assert isinstance(m, ComposedMethod) and m.name == name
