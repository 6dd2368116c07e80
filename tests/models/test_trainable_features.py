"""The ``trainable`` feature mode of SceneGraphModel: every encoder and task on FPN maps,
empty and single-object images, batching, and EBM's energy loss reaching the extractors."""
import pytest
import torch
from fvcore.common.config import CfgNode as CN

from pyg_sgg.data.loader import collate_scene_graphs
from pyg_sgg.methods import add_ebm_config
from pyg_sgg.methods.base import METHOD_REGISTRY
from pyg_sgg.models import SceneGraphModel, context_options, sgg_task_loss
from pyg_sgg.nn import BoxFeatureExtractor, UnionFeatureExtractor
from pyg_sgg.nn.context import CONTEXT_REGISTRY

from .conftest import C1, P1, random_graph

ENCODERS = ["none"] + CONTEXT_REGISTRY.names()
FPN, W = 4, 12  # FPN channels, extractor width
SCALES = [1 / 8, 1 / 16]


def graph(n, m, g, sgdet, i):
    """A scene graph with FPN maps of its 120 x 130 image (resized to 90 x 98)."""
    d = random_graph(n, m, g, sgdet, i)
    for key in ("x", "edge_attr"):
        del d[key]
    d.feature_maps = [torch.randn(FPN, 12, 13, generator=g), torch.randn(FPN, 6, 7, generator=g)]
    d.map_image_size = torch.tensor([[90, 98]])
    return d


def make_batch(sizes=(5, 1, 0, 4), sgdet=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    return collate_scene_graphs([graph(n, 2, g, sgdet, i) for i, n in enumerate(sizes)])


def build(mode, context, **features):
    """A small model on FPN maps; ``features``: other feature modules (e.g. ``grounding=``)
    instead of the box / union extractors."""
    torch.manual_seed(0)
    if not features:
        features = dict(box_extractor=BoxFeatureExtractor(FPN, 7, SCALES, W, sampling_ratio=2),
                        union_extractor=UnionFeatureExtractor(FPN, 7, SCALES, W,
                                                              sampling_ratio=2))
    return SceneGraphModel.build(
        mode=mode, context=context, num_classes=C1, num_predicates=P1, feature_dim=W,
        pair_feature_dim=W, hidden_dim=16, pooling_dim=16, dropout=0.0,
        pred_dist=torch.randn(C1, C1, P1), pairs_per_image=16,
        context_options=context_options(context, embed_dim=8, dropout=0.0, edge_channels=W,
                                        num_obj_layers=1, num_edge_layers=1, heads=2,
                                        num_iterations=2),
        **features)


@pytest.mark.parametrize("mode", ["predcls", "sgcls", "sgdet"])
@pytest.mark.parametrize("context", ENCODERS)
def test_every_encoder_trains_and_predicts_on_maps(mode, context):
    model = build(mode, context).train()
    batch = model.prepare_batch(make_batch(sgdet=mode == "sgdet"),
                                torch.Generator().manual_seed(0))
    out = model(batch)
    assert out.node_features.shape == (batch.num_nodes, W)
    assert out.rel_logits.shape == (batch.edge_index.size(1), P1)
    loss = sum(sgg_task_loss(batch, out).values())
    loss.backward()
    if context != "none" and batch.edge_index.size(1):
        assert model.box_extractor.fc6.weight.grad.abs().sum() > 0
        assert model.union_extractor.box.fc6.weight.grad.abs().sum() > 0
    pred = model.predict(make_batch(sgdet=mode == "sgdet", seed=1))
    assert pred["rel_scores"].shape[1] == P1 and len(pred["pred_obj_ptr"]) == 5
    # one image without objects, one with a single object
    alone = model.predict(make_batch(sizes=(0, 1), sgdet=mode == "sgdet", seed=2))
    assert alone["rel_scores"].shape == (0, P1)


def test_batching_equivalence():
    model = build("sgcls", "motifs").eval()
    both = make_batch(sizes=(5, 3), seed=3)
    parts = [make_batch(sizes=(5,), seed=3)]
    g = torch.Generator().manual_seed(3)
    graph(5, 2, g, False, 0)  # advance the generator past the first image
    parts.append(collate_scene_graphs([graph(3, 2, g, False, 1)]))
    out = model(model.prepare_batch(both))
    one = [model(model.prepare_batch(p)) for p in parts]
    assert torch.allclose(out.node_features, torch.cat([o.node_features for o in one]),
                          atol=1e-5)
    assert torch.allclose(out.rel_logits, torch.cat([o.rel_logits for o in one]), atol=1e-5)


def test_missing_maps_is_one_clear_error():
    model = build("predcls", "imp")
    batch = make_batch()
    del batch.feature_maps
    with pytest.raises(ValueError, match="lacks field 'feature_maps'"):
        model(model.prepare_batch(batch))


@pytest.mark.parametrize("task", ["predcls", "sgcls", "sgdet"])
@pytest.mark.parametrize("base_grad", ["as_coded", "minimize"])
def test_energy_loss_reaches_the_extractors(task, base_grad):
    """EBM's image graph takes the trainable extractor's features (the authors' path):
    the energy terms alone give the extractor a gradient; SGDet's positives are the GT boxes'
    re-extracted features."""
    cfg = CN()
    cfg.SGG = CN()
    cfg.SGG.TASK = task
    add_ebm_config(cfg)
    cfg.EBM.IMG_DIM, cfg.EBM.NUM_OBJ_CLASSES, cfg.EBM.NUM_PREDICATES = W, C1, P1
    cfg.EBM.HIDDEN_DIM, cfg.EBM.POS_DIM, cfg.EBM.SAMPLER.NUM_STEPS = 16, 8, 2
    cfg.EBM.BASE_GRAD = base_grad
    method = METHOD_REGISTRY.get("ebm").from_config(cfg)
    model = build(task, "motifs").train()
    method.setup(model, None)
    batch = model.prepare_batch(make_batch(sgdet=task == "sgdet"),
                                torch.Generator().manual_seed(0))
    out = model(batch)
    if task == "sgdet":
        assert out.extras["gt_node_features"].shape == (int(batch.num_gt.sum()), W)
    losses = method.loss(model, batch, out)
    energy = sum(v for k, v in losses.items() if k.startswith("loss_energy"))
    grad = torch.autograd.grad(energy, model.box_extractor.fc6.weight, allow_unused=True)[0]
    assert grad is not None and grad.abs().sum() > 0
