import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Batch

from pyg_sgg.config import get_cfg
from pyg_sgg.data.scene_graph import SceneGraph, add_candidate_pairs
from pyg_sgg.methods import METHOD_REGISTRY, ComposedMethod, Method, Stage, build_method
from pyg_sgg.methods.ce import CrossEntropy
from pyg_sgg.models.output import SGGOutput


def _batch(num_nodes=(3, 2)):
    graphs = []
    for i, n in enumerate(num_nodes):
        boxes = torch.tensor([[0, 0, 10, 10], [5, 5, 20, 20], [1, 2, 8, 9]][:n],
                             dtype=torch.float)
        rel = torch.tensor([[0], [1]]) if n >= 2 else torch.zeros(2, 0, dtype=torch.long)
        graphs.append(SceneGraph(boxes, torch.arange(1, n + 1), (30, 30), rel,
                                 torch.tensor([2] * rel.size(1)), image_id=i))
    return add_candidate_pairs(Batch.from_data_list(graphs))


def _outputs(batch, requires_grad=True, obj_target=None):
    g = torch.Generator().manual_seed(0)
    rel = torch.randn(batch.edge_index.size(1), 4, generator=g).requires_grad_(requires_grad)
    obj = torch.randn(batch.num_nodes, 5, generator=g).requires_grad_(requires_grad)
    extras = {} if obj_target is None else {"obj_target": obj_target}
    return SGGOutput(obj_logits=obj, rel_logits=rel, obj_labels=batch.labels,
                     obj_scores=torch.ones(batch.num_nodes), extras=extras)


def test_ce_matches_cross_entropy():
    batch = _batch()
    out = _outputs(batch, obj_target=batch.labels)
    losses = CrossEntropy("sgcls").loss(None, batch, out)
    assert set(losses) == {"loss_rel", "loss_obj"}
    torch.testing.assert_close(losses["loss_rel"], F.cross_entropy(out.rel_logits,
                                                                   batch.edge_label))
    torch.testing.assert_close(losses["loss_obj"], F.cross_entropy(out.obj_logits,
                                                                   batch.labels))
    sum(losses.values()).backward()
    assert out.rel_logits.grad.abs().sum() > 0
    pred = CrossEntropy("predcls").loss(None, batch, _outputs(batch))
    assert float(pred["loss_obj"]) == 0.0


def test_ce_empty_batch():
    batch = _batch((1, 1))  # single objects: no pairs at all
    assert batch.edge_index.size(1) == 0
    out = _outputs(batch)
    losses = CrossEntropy("predcls").loss(None, batch, out)
    assert float(losses["loss_rel"]) == 0.0
    sum(losses.values()).backward()  # still differentiable


def test_build_method_from_config():
    cfg = get_cfg()
    cfg.merge_from_list(["SGG.TASK", "sgcls"])
    m = build_method("ce", cfg)
    assert isinstance(m, CrossEntropy) and m.task == "sgcls" and "ce" in METHOD_REGISTRY
    with pytest.raises(KeyError, match="nope"):
        build_method("ce+nope", cfg)
    with pytest.raises(ValueError, match="twice"):
        build_method("ce+ce", cfg)


class _Staged(Method):
    name = "staged"

    def __init__(self):
        self.log, self.mod = [], torch.nn.Linear(1, 1)

    def stages(self, max_iter):
        return [Stage("a", max_iter), Stage("b", 2 * max_iter)]

    def loss(self, model, batch, outputs):
        return {"loss_rel": torch.tensor(10.0), "loss_cr": torch.tensor(1.0)}

    def after_step(self, model):
        self.log.append("staged")

    def modules(self):
        return {"parent": self.mod}

    def state_dict(self):
        return {"n": len(self.log)}


def test_composition_union_hooks_stages():
    staged = _Staged()
    ce = CrossEntropy()
    combo = ComposedMethod([staged, ce])
    assert combo.name == "staged+ce"
    assert [s.name for s in combo.stages(5)] == ["a", "b"]
    assert [s.name for s in ComposedMethod([ce, staged]).stages(5)] == ["a", "b"]
    batch = _batch()
    losses = combo.loss(None, batch, _outputs(batch))
    assert set(losses) == {"loss_rel", "loss_cr", "loss_obj"}
    assert float(losses["loss_rel"]) == 10.0  # the first method's task loss wins
    combo.after_step(None)
    assert staged.log == ["staged"]
    assert set(combo.modules()) == {"staged.parent"}
    assert combo.state_dict() == {"staged": {"n": 1}, "ce": {}}
