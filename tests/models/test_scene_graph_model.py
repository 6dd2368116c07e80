import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from pyg_sgg.models import SceneGraphModel, context_options, sgg_task_loss
from pyg_sgg.nn.context import CONTEXT_REGISTRY

from .conftest import C1, D, DP, P1, random_graph

ENCODERS = ["none"] + CONTEXT_REGISTRY.names()
MODES = ["predcls", "sgcls", "sgdet"]
SMALL = dict(num_obj_layers=1, num_edge_layers=1, heads=2, num_iterations=2)


def build(mode, context, **kwargs):
    torch.manual_seed(0)
    kwargs.setdefault("pairs_per_image", 16)
    return SceneGraphModel.build(
        mode=mode, context=context, num_classes=C1, num_predicates=P1, feature_dim=D,
        pair_feature_dim=DP, hidden_dim=16, pooling_dim=16, dropout=0.0,
        pred_dist=torch.randn(C1, C1, P1),
        context_options=context_options(context, embed_dim=8, dropout=0.0, edge_channels=DP,
                                        **SMALL), **kwargs)


def test_registry_has_required_encoders():
    assert {"imp", "transformer", "motifs", "vctree"} <= set(ENCODERS)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("context", ENCODERS)
def test_forward_sizes_and_predict(make_batch, mode, context):
    model = build(mode, context).eval()
    batch = make_batch(sgdet=mode == "sgdet")
    model.prepare_batch(batch)
    out = model(batch)
    N, E = batch.num_nodes, batch.edge_index.size(1)
    assert out.obj_logits.size() == (N, C1) and out.rel_logits.size() == (E, P1)
    assert out.obj_labels.size() == (N,) and out.obj_scores.size() == (N,)
    if mode == "predcls":
        assert torch.equal(out.obj_labels, batch.labels)
        assert torch.equal(out.obj_scores, torch.ones(N))
    else:
        assert (out.obj_labels >= 1).all()

    pred = model.predict(make_batch(sgdet=mode == "sgdet"))
    B = 3
    for key in ("gt_obj_ptr", "gt_rel_ptr", "pred_obj_ptr", "rel_ptr"):
        assert pred[key].shape == (B + 1,) and pred[key][0] == 0
    assert pred["rel_scores"].shape == (pred["rel_ptr"][-1], P1)
    assert np.allclose(pred["rel_scores"].sum(1), 1, atol=1e-5)
    assert pred["rel_pair_idx"].shape == (pred["rel_ptr"][-1], 2)
    counts = np.diff(pred["pred_obj_ptr"])
    for b in range(B):
        pairs = pred["rel_pair_idx"][pred["rel_ptr"][b]:pred["rel_ptr"][b + 1]]
        assert (pairs >= 0).all() and (pairs < counts[b]).all()
        gt = pred["gt_rels"][pred["gt_rel_ptr"][b]:pred["gt_rel_ptr"][b + 1]]
        assert (gt[:, :2] < np.diff(pred["gt_obj_ptr"])[b]).all() and (gt[:, 2] >= 1).all()
    assert pred["gt_rels"].shape == (9, 3)
    assert int(pred["num_predicates"]) == P1 - 1
    if mode == "predcls":
        assert np.array_equal(pred["pred_boxes"], pred["gt_boxes"])
        assert np.array_equal(pred["pred_labels"], pred["gt_labels"])
        assert (pred["pred_scores"] == 1).all()
    if mode == "sgdet":  # test-time candidates only overlapping pairs
        assert pred["rel_ptr"][-1] < sum(n * (n - 1) for n in counts)


@pytest.mark.parametrize("context", ENCODERS)
def test_batching_equivalence(make_batch, context):
    model = build("sgcls", context).eval()
    batch = make_batch(sizes=(4, 1, 5))
    out = model(batch)
    e0 = 0
    for i, data in enumerate(batch.to_data_list()):
        single = model(Batch.from_data_list([data]))
        n = data.num_nodes
        sl = slice(int(batch.ptr[i]), int(batch.ptr[i]) + n)
        assert torch.allclose(out.obj_logits[sl], single.obj_logits, atol=1e-4)
        e = data.edge_index.size(1)
        assert torch.allclose(out.rel_logits[e0:e0 + e], single.rel_logits, atol=1e-4)
        e0 += e


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("context", ENCODERS)
def test_empty_graphs(context, mode):
    model = build(mode, context)
    g = torch.Generator().manual_seed(0)
    sgdet = mode == "sgdet"
    batch = Batch.from_data_list([random_graph(0, 0, g, sgdet), random_graph(1, 0, g, sgdet),
                                  random_graph(3, 2, g, sgdet)])
    model.train().prepare_batch(batch, g)
    out = model(batch)
    losses = sgg_task_loss(batch, out)
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    pred = model.predict(Batch.from_data_list([random_graph(0, 0, g, sgdet),
                                               random_graph(1, 0, g, sgdet)]))
    assert pred["rel_scores"].shape == (0, P1) and pred["pred_obj_ptr"].tolist() == [0, 0, 1]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("context", ENCODERS)
def test_training_smoke(make_batch, context, mode):
    """30 iterations on tiny random data: the task loss goes down."""
    model = build(mode, context)
    # the frequency baseline only learns its table: a larger step
    opt = torch.optim.Adam(model.parameters(), lr=0.1 if context == "none" else 1e-2)
    g = torch.Generator().manual_seed(0)
    data = make_batch(sgdet=mode == "sgdet").to_data_list()
    losses = []
    for _ in range(30):
        batch = Batch.from_data_list(data)
        model.train().prepare_batch(batch, g)
        loss = sum(sgg_task_loss(batch, model(batch)).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses


def test_predict_matches_per_image_data(make_batch):
    model = build("predcls", "imp")
    batch = make_batch(sizes=(4, 0, 3))
    data = batch.to_data_list()
    pred = model.predict(batch)
    for b, d in enumerate(data):
        gt = pred["gt_rels"][pred["gt_rel_ptr"][b]:pred["gt_rel_ptr"][b + 1]]
        assert np.array_equal(gt, d.gt_triplets.numpy())
        pairs = pred["rel_pair_idx"][pred["rel_ptr"][b]:pred["rel_ptr"][b + 1]]
        assert np.array_equal(pairs, d.edge_index.t().numpy())  # all pairs at test
        boxes = pred["pred_boxes"][pred["pred_obj_ptr"][b]:pred["pred_obj_ptr"][b + 1]]
        assert np.array_equal(boxes, d.boxes.numpy())
    assert pred["image_ids"].tolist() == [0, 1, 2]
    # predict leaves the training mode as it was
    model.train()
    model.predict(make_batch())
    assert model.training


def test_predict_under_bf16_autocast(make_batch):
    model = build("sgcls", "transformer")
    with torch.autocast("cpu", torch.bfloat16):
        pred = model.predict(make_batch())
    assert pred["rel_scores"].dtype == np.float32 and pred["pred_scores"].dtype == np.float32
    assert np.isfinite(pred["rel_scores"]).all()
