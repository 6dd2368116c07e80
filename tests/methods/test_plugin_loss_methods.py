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


@pytest.mark.parametrize("name, mode", [("gcl", "sgdet"), ("baikal", "sgcls"),
                                        pytest.param("disc", "sgcls", marks=pytest.mark.slow)])
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


@pytest.mark.parametrize("mode", ["sgcls", "sgdet"])
@pytest.mark.parametrize("exact", [False, True])
def test_cmat_two_stages_and_policy_gradient(mode, exact):
    model = build(mode, "motifs")
    cmat = build_method("cmat", _cfg(mode, "CMAT.EXACT", str(exact)))
    cmat.stages(4)  # the CE stage: iterations 0, 1
    batch = Batch.from_data_list(_data(mode))
    model.train().prepare_batch(batch, torch.Generator().manual_seed(0))
    out = model(batch)
    assert "loss_cmat" not in cmat.loss(model, batch, out)
    cmat.after_step(model), cmat.after_step(model)
    losses = cmat.loss(model, batch, out)
    assert "loss_cmat" in losses
    C1 = out.obj_logits.size(1)
    assert cmat.reward_evaluations == batch.num_nodes * (C1 if exact else 4)
    grad, = torch.autograd.grad(losses["loss_cmat"], out.obj_logits, allow_unused=True)
    assert grad is not None and torch.isfinite(grad).all()
    state = cmat.state_dict()
    again = build_method("cmat", _cfg(mode))
    again.load_state_dict(state)
    assert again.iteration == 2
    a = torch.multinomial(torch.ones(5), 3, generator=cmat.generator)
    b = torch.multinomial(torch.ones(5), 3, generator=again.generator)
    assert a.tolist() == b.tolist()


def test_cmat_is_the_task_loss_in_predcls(caplog):
    model = build("predcls", "motifs")
    cmat = build_method("cmat", _cfg("predcls"))
    cmat.stages(0)
    batch = Batch.from_data_list(_data("predcls"))
    model.train().prepare_batch(batch, torch.Generator().manual_seed(0))
    with caplog.at_level("INFO"):
        losses = cmat.loss(model, batch, model(batch))
        cmat.loss(model, batch, model(batch))
    assert set(losses) == {"loss_rel", "loss_obj"}
    assert sum("PredCls has no object labels" in r.message for r in caplog.records) == 1


def test_cmat_trains_sgcls():
    model = build("sgcls", "motifs")
    cmat = build_method("cmat", _cfg("sgcls"))
    cmat.stages(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    task = []
    for _ in range(20):
        batch = Batch.from_data_list(_data("sgcls"))
        model.train().prepare_batch(batch, g)
        losses = cmat.loss(model, batch, model(batch))
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
        cmat.after_step(model)
        task.append(float((losses["loss_rel"] + losses["loss_obj"]).detach()))
    assert np.mean(task[-4:]) < 0.85 * np.mean(task[:4]), task
