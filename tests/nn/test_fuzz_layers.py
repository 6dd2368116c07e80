"""The nn layers on random graph batches: 0..9 objects per image, 1..4 images, no relations,
degenerate boxes (zero area, identical, outside the image), features at extreme scales. Every
encoder x task through ``SceneGraphModel`` (train step and predict), the energy model and the
RoI / union / mask-grounded extractors: finite outputs and gradients, never an exception.
``-m slow`` runs 2,000 cases per test (per encoder for the first)."""
import os
import subprocess
import sys

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch

from pyg_sgg.data.scene_graph import SceneGraph, all_pairs
from pyg_sgg.models import SceneGraphModel, context_options, sgg_task_loss
from pyg_sgg.nn import EnergyModel
from pyg_sgg.nn.box_feature_extractor import BoxFeatureExtractor
from pyg_sgg.nn.box_geometry import box_geometry
from pyg_sgg.nn.context import CONTEXT_REGISTRY
from pyg_sgg.nn.mask_grounded_box_extractor import MaskGroundedBoxExtractor
from pyg_sgg.nn.union_feature_extractor import UnionFeatureExtractor

C1, P1, D, DP = 6, 5, 16, 8
ENCODERS = ["none"] + CONTEXT_REGISTRY.names()
SMALL = dict(num_obj_layers=1, num_edge_layers=1, heads=2, num_iterations=2)
SIZE = (60, 70)  # image (height, width)
FUZZ = int(os.environ.get("PYG_SGG_FUZZ_EXAMPLES") or 0)


def odd_boxes(n, g):
    """Boxes with every kind of degeneracy: normal, zero width / height, duplicates, partly or
    wholly outside the image."""
    xy = torch.rand(n, 2, generator=g) * 80 - 10
    wh = torch.rand(n, 2, generator=g) * 40
    kind = torch.randint(0, 4, (n,), generator=g)
    wh[kind == 1, 0] = 0.0  # zero width
    wh[kind == 2] = 0.0  # a point
    boxes = torch.cat([xy, xy + wh], 1)
    if n > 1:
        boxes[1] = boxes[0]  # identical boxes
    return boxes


@st.composite
def batches(draw):
    sizes = draw(st.lists(st.integers(0, 9), min_size=1, max_size=4))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    sgdet = draw(st.booleans())
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    graphs = []
    for i, n in enumerate(sizes):
        boxes = odd_boxes(n, g)
        labels = torch.randint(1, C1, (n,), generator=g)
        pairs = all_pairs(torch.tensor([n]))
        m = int(torch.randint(0, pairs.size(1) + 1, (), generator=g)) if n > 1 else 0
        sel = torch.randperm(pairs.size(1), generator=g)[:m]
        rel, lab = pairs[:, sel], torch.randint(1, P1, (m,), generator=g)
        kw = dict(x=torch.randn(n, D, generator=g) * scale, edge_index=pairs,
                  edge_attr=torch.randn(pairs.size(1), DP, generator=g) * scale,
                  det_logits=torch.randn(n, C1, generator=g) * scale)
        if sgdet:
            kw.update(gt_boxes=boxes.clone(), gt_labels=labels, num_gt=torch.tensor([n]),
                      gt_triplets=torch.cat([rel.t(), lab[:, None]], 1),
                      det_scores=torch.rand(n, generator=g))
            graphs.append(SceneGraph(boxes, labels, SIZE, image_id=i, **kw))
        else:
            graphs.append(SceneGraph(boxes, labels, SIZE, rel, lab, image_id=i, **kw))
    return sgdet, graphs, g


def _model(mode, context):
    torch.manual_seed(0)
    return SceneGraphModel.build(
        mode=mode, context=context, num_classes=C1, num_predicates=P1, feature_dim=D,
        pair_feature_dim=DP, hidden_dim=16, pooling_dim=16, dropout=0.0, pairs_per_image=16,
        pred_dist=torch.randn(C1, C1, P1),
        context_options=context_options(context, embed_dim=8, dropout=0.0, edge_channels=DP,
                                        **SMALL))


MODELS = {}


def model(mode, context):
    if (mode, context) not in MODELS:
        MODELS[(mode, context)] = _model(mode, context)
    return MODELS[(mode, context)]


def finite_grads(module):
    return all(p.grad is None or torch.isfinite(p.grad).all() for p in module.parameters())


@pytest.mark.parametrize("context", ENCODERS)
@settings(max_examples=FUZZ or 8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(b=batches(), task=st.sampled_from(["predcls", "sgcls"]))
def test_every_encoder_trains_and_predicts_on_odd_batches(context, b, task):
    sgdet, graphs, g = b
    mode = "sgdet" if sgdet else task
    m = model(mode, context)
    batch = Batch.from_data_list(graphs)
    m.train().prepare_batch(batch, g)
    out = m(batch)
    losses = sgg_task_loss(batch, out)
    total = sum(losses.values())
    assert torch.isfinite(total)
    m.zero_grad(set_to_none=True)
    total.backward()
    assert finite_grads(m)
    pred = m.eval().predict(Batch.from_data_list(graphs))
    assert (pred["rel_scores"] >= 0).all() and len(pred["pred_obj_ptr"]) == len(graphs) + 1


@settings(max_examples=FUZZ or 20, deadline=None)
@given(b=batches(), image_graph=st.booleans())
def test_energy_model_is_finite_on_odd_batches(b, image_graph):
    _, graphs, g = b
    batch = Batch.from_data_list(graphs)
    N = batch.num_nodes
    torch.manual_seed(0)
    energy = EnergyModel(D, C1, P1, hidden_channels=8, pos_channels=6,
                         image_graph=image_graph).train()
    x_sg = torch.softmax(torch.randn(N, C1, generator=g), -1).requires_grad_()
    edge_attr = torch.softmax(torch.randn(batch.edge_index.size(1), P1, generator=g),
                              -1).requires_grad_()
    size = torch.tensor([SIZE] * N, dtype=torch.float).view(-1, 2)
    e = energy(batch.x, x_sg, box_geometry(batch.boxes, size), batch.edge_index, edge_attr,
               batch.batch, num_graphs=len(graphs))
    assert e.shape == (len(graphs),) and torch.isfinite(e).all()
    grads = torch.autograd.grad(e.sum(), [x_sg, edge_attr], allow_unused=True)
    assert all(gr is None or torch.isfinite(gr).all() for gr in grads)


@settings(max_examples=FUZZ or 20, deadline=None)
@given(b=batches(), aligned=st.booleans())
def test_feature_extractors_are_finite_on_degenerate_boxes(b, aligned):
    _, graphs, g = b
    batch = Batch.from_data_list(graphs)
    B, C, R = len(graphs), 4, 3
    scales = [0.125, 0.0625]
    maps = [torch.randn(B, C, 8, 9, generator=g), torch.randn(B, C, 4, 5, generator=g)]
    torch.manual_seed(0)
    box = BoxFeatureExtractor(C, R, scales, 8, aligned=aligned)
    union = UnionFeatureExtractor(C, R, scales, 8, aligned=aligned).train()
    grounded = MaskGroundedBoxExtractor(C, 3, scales, 8, resolution=2 * R, pool_to=R)
    size = torch.tensor([SIZE] * batch.num_nodes, dtype=torch.float).view(-1, 2)
    masks = torch.rand(batch.num_nodes, 3, 2 * R, 2 * R, generator=g)
    outs = [box(maps, batch.boxes, batch.batch),
            union(maps, batch.boxes, batch.edge_index, batch.batch, size),
            grounded(maps, batch.boxes, batch.batch, masks)]
    assert outs[0].shape == (batch.num_nodes, 8) and outs[1].shape == (batch.edge_index.size(1), 8)
    for o in outs:
        assert torch.isfinite(o).all()
    total = sum(o.sum() for o in outs)
    if total.requires_grad:
        total.backward()
    assert finite_grads(box) and finite_grads(union) and finite_grads(grounded)


@pytest.mark.slow
def test_fuzz_2000_cases():
    """``pytest -m slow``: every property above over 2,000 cases."""
    env = {**os.environ, "PYG_SGG_FUZZ_EXAMPLES": "2000"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           __file__, "-m", "not slow"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
