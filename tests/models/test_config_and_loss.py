import numpy as np
import pytest
import torch
from fvcore.common.config import CfgNode

from pyg_sgg.models import (SceneGraphModel, add_sgg_model_config, context_options,
                            sgg_task_loss)
from pyg_sgg.models.output import SGGOutput

from .conftest import C1, D, DP, P1


def _cfg(context="imp", task="sgcls"):
    cfg = CfgNode()
    cfg.SGG = CfgNode()
    cfg.SGG.TASK = task
    add_sgg_model_config(cfg)
    cfg.MODEL.SGG.CONTEXT = context
    cfg.MODEL.SGG.FEATURES = "frozen"
    cfg.MODEL.SGG.HIDDEN_DIM = 16
    cfg.MODEL.SGG.POOLING_DIM = 16
    cfg.MODEL.SGG.EMBED_DIM = 8
    cfg.MODEL.SGG.TRANSFORMER.NUM_HEADS = 2
    return cfg


def test_add_config_keys():
    cfg = add_sgg_model_config(CfgNode())
    c = cfg.MODEL.SGG
    # SGB's relation sampling and the papers' trainable extractors by default
    assert c.CONTEXT == "motifs" and c.PAIRS_PER_IMAGE == 1024 and c.POSITIVE_FRACTION == 0.25
    assert c.FEATURES == "trainable" and c.UNION_ALL_LEVELS and c.UNION_SPATIAL
    assert c.USE_FREQ_BIAS and c.IMP.NUM_ITER == 3 and c.TRANSFORMER.OBJ_LAYERS == 4


@pytest.mark.parametrize("context", ["none", "imp", "transformer"])
def test_from_config(make_batch, context, tmp_path, monkeypatch):
    monkeypatch.setenv("PYG_SGG_CACHE", str(tmp_path))
    pred_dist = np.log(np.random.dirichlet(np.ones(P1), size=(C1, C1)) + 1e-3)
    stats = {"pred_dist": pred_dist, "fg_matrix": np.ones((C1, C1, P1))}
    names = ["__background__"] + [f"class{i}" for i in range(1, C1)]
    model = SceneGraphModel.from_config(_cfg(context), stats, feature_dim=D,
                                        pair_feature_dim=DP, class_names=names)
    assert model.mode == "sgcls" and model.pairs_per_image == 1024
    assert (model.context is None) == (context == "none")
    if context == "imp":  # SGB's IMPPredictor has no frequency bias
        assert model.relation_head.freq_bias is None
    else:
        bias = model.relation_head.freq_bias.embedding.weight.detach()
        assert torch.allclose(bias, torch.as_tensor(pred_dist, dtype=torch.float32).view(-1, P1))
    batch = make_batch()
    out = model.eval()(model.prepare_batch(batch))
    assert out.rel_logits.size() == (batch.edge_index.size(1), P1)


def test_from_config_errors():
    with pytest.raises(ValueError, match="NUM_OBJ_CLASSES"):
        SceneGraphModel.from_config(_cfg(), None, feature_dim=D)
    cfg = _cfg()
    cfg.MODEL.SGG.NUM_OBJ_CLASSES, cfg.MODEL.SGG.NUM_PREDICATES = C1, P1
    with pytest.raises(ValueError, match="FEATURE_DIM"):
        SceneGraphModel.from_config(cfg, None)
    cfg.SGG.TASK = "detection"
    with pytest.raises(ValueError, match="mode must be one of"):
        SceneGraphModel.from_config(cfg, None, feature_dim=D)
    cfg.SGG.TASK, cfg.MODEL.SGG.FEATURES = "sgcls", "trainable"
    with pytest.raises(ValueError, match="no feature_extractors"):
        SceneGraphModel.from_config(cfg, None, feature_dim=D)


def test_sgg_task_loss():
    class B(dict):
        __getattr__ = dict.__getitem__

    rel = torch.randn(4, P1, requires_grad=True)
    obj = torch.randn(3, C1, requires_grad=True)
    batch = B(edge_label=torch.tensor([0, 2, 0, 1]))
    out = SGGOutput(obj, rel, torch.ones(3, dtype=torch.long), torch.ones(3))
    losses = sgg_task_loss(batch, out)  # PredCls: no object target
    assert losses["loss_obj"] == 0
    assert torch.isclose(losses["loss_rel"],
                         torch.nn.functional.cross_entropy(rel, batch["edge_label"]))
    out.extras["obj_target"] = torch.tensor([1, 0, 2])
    losses = sgg_task_loss(batch, out)
    assert torch.isclose(losses["loss_obj"], torch.nn.functional.cross_entropy(
        obj, out.extras["obj_target"]))
    empty = SGGOutput(obj[:0], rel[:0], torch.ones(0), torch.ones(0),
                      extras={"obj_target": torch.zeros(0, dtype=torch.long)})
    losses = sgg_task_loss(B(edge_label=torch.zeros(0, dtype=torch.long)), empty)
    assert all(float(v) == 0 for v in losses.values())
    sum(losses.values()).backward()
    with pytest.raises(ValueError, match="sgg_task_loss: batch lacks field 'edge_label'"):
        sgg_task_loss(B(), out)


def test_vctree_tree_loss_in_training_only(make_batch):
    model = SceneGraphModel.build(mode="predcls", context="vctree", num_classes=C1,
                                  num_predicates=P1, feature_dim=D, pair_feature_dim=DP,
                                  hidden_dim=16, pooling_dim=16,
                                  context_options=context_options(
                                      "vctree", embed_dim=8,
                                      pred_dist=torch.log_softmax(torch.randn(C1, C1, P1), -1)))
    batch = model.train().prepare_batch(make_batch())
    losses = sgg_task_loss(batch, model(batch))
    assert losses["loss_tree"].item() > 0
    losses["loss_tree"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for n, p in model.context.named_parameters() if "score" in n)
    assert "loss_tree" not in model.eval()(model.prepare_batch(make_batch())).extras


@pytest.mark.parametrize("predictor,bias_from", [("sgb", "context"), ("extended", "argmax")])
def test_frequency_bias_labels_sgcls_training(make_batch, predictor, bias_from):
    """SGB's Motifs predictor looks the bias up with the labels its decoder committed to (in
    training the teacher-forced GT labels); pyg_sgg's extended head with the argmax."""
    cfg = _cfg("motifs")
    cfg.MODEL.SGG.PREDICTOR = predictor
    cfg.MODEL.SGG.NUM_OBJ_CLASSES, cfg.MODEL.SGG.NUM_PREDICATES = C1, P1
    torch.manual_seed(0)
    model = SceneGraphModel.from_config(cfg, None, feature_dim=D, pair_feature_dim=DP)
    seen = []
    bias = model.relation_head.freq_bias
    bias.register_forward_hook(lambda m, args, out: seen.append(args))
    batch = model.prepare_batch(make_batch())
    out = model.train()(batch)
    sub, obj = batch.edge_index
    want = (batch.labels if bias_from == "context"
            else out.obj_logits[:, 1:].argmax(-1) + 1)
    assert torch.equal(seen[0][0], want[sub]) and torch.equal(seen[0][1], want[obj])
    assert not torch.equal(batch.labels, out.obj_logits[:, 1:].argmax(-1) + 1)  # they differ
