"""SceneGraphModel with segmentation-grounded features: every encoder and task trains and
predicts from FPN maps + the detector's mask logits, empty and single-object images."""
import numpy as np
import pytest
import torch

from torchvision.models.detection.roi_heads import paste_masks_in_image

from pyg_sgg.data.loader import collate_scene_graphs
from pyg_sgg.models import sgg_task_loss
from pyg_sgg.nn import SegmentationGrounding
from pyg_sgg.nn.context import CONTEXT_REGISTRY

from .conftest import C1, P1
from .test_trainable_features import FPN, SCALES, W
from .test_trainable_features import build as build_on_maps
from .test_trainable_features import graph

K = 3  # COCO mask classes


def make_batch(sizes=(5, 1, 0, 4), sgdet=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    graphs = []
    for i, n in enumerate(sizes):
        d = graph(n, 2, g, sgdet, i)
        d.mask_logits = torch.randn(n, K, 28, 28, generator=g)
        graphs.append(d)
    return collate_scene_graphs(graphs)


def build(mode, context, attention="gaussian"):
    torch.manual_seed(0)
    transfer = torch.softmax(torch.randn(C1 - 1, K), -1)
    return build_on_maps(mode, context, grounding=SegmentationGrounding(
        transfer, FPN, SCALES, W, C1, attention=attention, pool_to=7))


@pytest.mark.parametrize("mode", ["predcls", "sgcls", "sgdet"])
@pytest.mark.parametrize("context", ["none"] + CONTEXT_REGISTRY.names())
def test_every_encoder_and_task_trains_and_predicts(mode, context):
    model = build(mode, context).train()
    batch = model.prepare_batch(make_batch(sgdet=mode == "sgdet"),
                                torch.Generator().manual_seed(0))
    out = model(batch)
    assert out.rel_logits.shape == (batch.edge_index.size(1), P1)
    sum(sgg_task_loss(batch, out).values()).backward()
    if context != "none" and batch.edge_index.size(1):
        g = model.grounding
        assert g.box.mask_combiner.weight.grad.abs().sum() > 0
        assert g.union.fc6.weight.grad.abs().sum() > 0
        if mode != "predcls":  # the kernels read the detector's distribution
            assert g.attention.variance_net.weight.grad.abs().sum() > 0
    alone = model.predict(make_batch(sizes=(0, 1), sgdet=mode == "sgdet", seed=2))
    assert alone["rel_scores"].shape == (0, P1)


@pytest.mark.parametrize("attention", ["avg", "union"])
def test_ablation_attentions_train(attention):
    model = build("sgcls", "motifs", attention).train()
    batch = model.prepare_batch(make_batch(), torch.Generator().manual_seed(0))
    sum(sgg_task_loss(batch, model(batch)).values()).backward()
    assert model.grounding.union.fc6.weight.grad.abs().sum() > 0


def test_missing_mask_logits_is_one_clear_error():
    model = build("sgcls", "motifs")
    batch = make_batch()
    del batch.mask_logits
    with pytest.raises(ValueError, match="batch lacks field 'mask_logits'"):
        model(model.prepare_batch(batch, torch.Generator().manual_seed(0)))


def coco_batch(sizes=(3, 0, 2), seed=5):
    """A COCO batch as the segmentation stream attaches it: GT boxes with COCO labels 1..K,
    FPN maps, the detector's COCO mask logits and 28 x 28 mask targets."""
    from pyg_sgg.data.scene_graph import all_pairs
    g = torch.Generator().manual_seed(seed)
    graphs = []
    for i, n in enumerate(sizes):
        d = graph(n, 0, g, False, i)
        d.labels = torch.randint(1, K + 1, (n,), generator=g)
        d.edge_index = all_pairs(torch.tensor([n]))
        d.mask_logits = torch.randn(n, K, 28, 28, generator=g)
        d.mask_targets = (torch.rand(n, 28, 28, generator=g) > 0.5).float()
        graphs.append(d)
    return collate_scene_graphs(graphs)


def build_refined(mode, context):
    torch.manual_seed(0)
    transfer = torch.softmax(torch.randn(C1 - 1, K), -1)
    grounding = SegmentationGrounding(transfer, FPN, SCALES, W, C1, pool_to=7)
    return build_on_maps(mode, context, grounding=grounding,
                         refinement=dict(in_channels=FPN, num_mask_classes=K, scales=SCALES,
                                         hidden_channels=8, num_conv=1))


@pytest.mark.parametrize("mode", ["predcls", "sgcls"])
@pytest.mark.parametrize("context", CONTEXT_REGISTRY.names())
def test_coco_batches_train_the_refinement_head_through_the_context(mode, context):
    model = build_refined(mode, context).train()
    batch = model.prepare_batch(make_batch(), torch.Generator().manual_seed(0))
    assert "loss_mask_segmentation" not in sgg_task_loss(batch, model(batch))  # no COCO
    batch.coco = coco_batch()
    losses = sgg_task_loss(batch, model(batch))
    seg = losses["loss_mask_segmentation"]
    assert torch.isfinite(seg) and seg > 0
    model.zero_grad()
    seg.backward()
    assert model.refinement.predictor.weight.grad.abs().sum() > 0  # zero-initialised: only it
    torch.nn.init.normal_(model.refinement.predictor.weight, std=0.1)  # as after some steps
    model.zero_grad()
    sgg_task_loss(batch, model(batch))["loss_mask_segmentation"].backward()
    assert model.grounding.box.mask_combiner.weight.grad.abs().sum() > 0  # shared with VG
    ctx_grads = [p.grad for p in model.context.parameters() if p.grad is not None]
    assert ctx_grads and any(g.abs().sum() > 0 for g in ctx_grads)  # a multi-task regulariser
    model.eval()
    assert "loss_mask_segmentation" not in model(batch).extras  # training only


def test_mask_ap_of_perfect_frozen_masks_is_100_for_both():
    """Box-shaped annotated masks, frozen logits saying "all of the box": the pasted masks
    equal the annotations (AP 100), and the zero-initialised head leaves them so."""
    from pyg_sgg.data.scene_graph import all_pairs
    from pyg_sgg.engine.segmentation_eval import refined_mask_ap
    g = torch.Generator().manual_seed(0)
    graphs, raws = [], []
    for i, n in enumerate((3, 2)):
        d = graph(n, 0, g, False, i)
        d.boxes = torch.tensor([[10., 20, 60, 80], [30, 5, 90, 50], [0, 0, 40, 40]])[:n]
        d.labels = torch.randint(1, K + 1, (n,), generator=g)
        d.edge_index = all_pairs(torch.tensor([n]))
        d.mask_logits = torch.full((n, K, 28, 28), 10.0)
        d.mask_targets = torch.ones(n, 28, 28)
        h, w = (int(v) for v in d.image_size.view(-1))
        masks = torch.zeros(n, h, w, dtype=torch.uint8)
        for k, (x0, y0, x1, y1) in enumerate(d.boxes.long().tolist()):
            masks[k, y0:y1, x0:x1] = 1
        graphs.append(d)
        raws.append(type("G", (), {"masks": masks, "image_size": d.image_size})())

    class Samples:
        features = type("F", (), {"dataset": raws})()

        def __len__(self):
            return len(graphs)

        def __getitem__(self, i):
            return graphs[i].clone()

    model = build_refined("predcls", "motifs")
    ap = refined_mask_ap(model, Samples(), collate_scene_graphs, batch_size=2)
    assert ap["frozen/AP50"] == pytest.approx(100.0) and ap["refined/AP50"] == pytest.approx(100.0)
    assert ap["frozen/AP"] > 90 and abs(ap["refined/AP"] - ap["frozen/AP"]) < 1e-6
    for d in graphs:  # masks that say "nothing": AP 0
        d.mask_logits = torch.full_like(d.mask_logits, -10.0)
    assert refined_mask_ap(model, Samples(), collate_scene_graphs)["frozen/AP"] == 0.0


@pytest.mark.parametrize("variant", [dict(head="polar", num_rays=12),
                                     dict(embedding_dim=4)])
def test_polar_and_embedding_heads_train_through_the_model(variant):
    from pyg_sgg.nn.segmentation_refinement import instance_targets
    torch.manual_seed(0)
    transfer = torch.softmax(torch.randn(C1 - 1, K), -1)
    grounding = SegmentationGrounding(transfer, FPN, SCALES, W, C1, pool_to=7)
    model = build_on_maps("sgcls", "motifs", grounding=grounding,
                          refinement=dict(in_channels=FPN, num_mask_classes=K, scales=SCALES,
                                          hidden_channels=8, num_conv=1, **variant)).train()
    batch = model.prepare_batch(make_batch(), torch.Generator().manual_seed(0))
    coco = coco_batch()
    g = torch.Generator().manual_seed(1)
    coco.instance_targets = torch.cat([instance_targets(
        (torch.rand(n, 40, 40, generator=g) > 0.5).to(torch.uint8),
        torch.tensor([[0., 0, 20, 20]]).expand(n, 4), 28) for n in (3, 0, 2)])
    batch.coco = coco
    losses = sgg_task_loss(batch, model(batch))
    keys = {k for k in losses if k.startswith("loss_mask")}
    if "head" in variant:
        assert keys == {"loss_mask_segmentation"}
        losses["loss_mask_segmentation"].backward()
        assert model.refinement.polar[2].weight.grad.abs().sum() > 0
        assert model.refined_mask_logits(coco).shape == (5, K, 28, 28)
    else:
        assert keys == {"loss_mask_segmentation", "loss_mask_discriminative"}
        assert losses["loss_mask_discriminative"] > 0
        losses["loss_mask_discriminative"].backward()
        assert model.refinement.embed.weight.grad.abs().sum() > 0


def build_refine_at_test(mode, context, refine):
    torch.manual_seed(0)
    transfer = torch.softmax(torch.randn(C1 - 1, K), -1)
    grounding = SegmentationGrounding(transfer, FPN, SCALES, W, C1, pool_to=7)
    return build_on_maps(mode, context, grounding=grounding, refine_seg_masks=refine,
                         refinement=dict(in_channels=FPN, num_mask_classes=K, scales=SCALES,
                                         hidden_channels=8, num_conv=1))


@pytest.mark.parametrize("mode", ["predcls", "sgcls", "sgdet"])
def test_refine_seg_masks_grounds_the_test_features_in_the_refined_masks(mode):
    """REFINE_SEG_MASKS: a zero-initialised head leaves the masks, hence every score, as they
    were; a trained one changes the test features (the second grounding reads its masks),
    the training forward never (the authors refine at VG test only)."""
    off = build_refine_at_test(mode, "motifs", False).eval()
    on = build_refine_at_test(mode, "motifs", True).eval()
    on.load_state_dict(off.state_dict())
    batch = make_batch(sgdet=mode == "sgdet")
    a, b = off.predict(batch.clone()), on.predict(batch.clone())
    for key in ("rel_scores", "pred_scores", "pred_labels"):
        np.testing.assert_allclose(a[key], b[key], atol=1e-5)
    with torch.no_grad():
        torch.nn.init.normal_(on.refinement.predictor.weight, std=1.0)
        on.refinement.predictor.bias.fill_(-3.0)  # the refined masks shrink
    c = on.predict(batch.clone())
    assert np.abs(c["rel_scores"] - a["rel_scores"]).max() > 1e-4  # float noise: < 1e-6
    assert a["pred_masks"].tolist() != c["pred_masks"].tolist()  # masks of the refined logits
    on.train()
    torch.manual_seed(1)
    t_on = on(on.prepare_batch(batch.clone(), torch.Generator().manual_seed(0))).rel_logits
    off.load_state_dict(on.state_dict())
    off.train()
    torch.manual_seed(1)
    t_off = off(off.prepare_batch(batch.clone(), torch.Generator().manual_seed(0))).rel_logits
    torch.testing.assert_close(t_on, t_off)


def test_refine_seg_masks_needs_a_per_pixel_head():
    with pytest.raises(ValueError, match="refine_seg_masks needs a per-pixel"):
        build_on_maps("sgcls", "motifs", refine_seg_masks=True, grounding=SegmentationGrounding(
            torch.softmax(torch.randn(C1 - 1, K), -1), FPN, SCALES, W, C1, pool_to=7))


@pytest.mark.parametrize("mode", ["predcls", "sgdet"])
def test_predictions_carry_each_objects_mask_of_its_label(mode):
    """``pred_masks``: one RLE per predicted object, decoding at its image's size to the
    transferred mask of its predicted label pasted into its box; images with 0 objects."""
    from pyg_sgg.evaluation.interchange import validate_predictions
    from pyg_sgg.evaluation.object_masks import decode_object_masks
    model = build(mode, "motifs").eval()
    batch = make_batch(sizes=(5, 0, 1, 4), sgdet=mode == "sgdet")
    pred = validate_predictions(model.predict(batch), mode)
    ptr = pred["pred_obj_ptr"]
    assert pred["pred_masks"].shape == (ptr[-1],) and pred["image_sizes"].shape == (4, 2)
    # the expected masks, from the transfer map written out (not the grounding's code)
    T = model.grounding.transfer.transfer
    for i in range(4):
        masks = decode_object_masks(pred, i)
        h, w = pred["image_sizes"][i]
        assert masks.shape == (ptr[i + 1] - ptr[i], h, w)
        for j in range(ptr[i], ptr[i + 1]):
            label = int(pred["pred_labels"][j])
            logits = (T[label - 1][:, None, None] * batch.mask_logits[j]).sum(0)
            want = paste_masks_in_image(torch.sigmoid(logits)[None, None],
                                        torch.as_tensor(pred["pred_boxes"][j:j + 1]),
                                        (int(h), int(w)))[0, 0] > 0.5
            assert (masks[j - ptr[i]] == want.numpy()).all()


def build_object_grounding_only(mode, context, refinement=None):
    from pyg_sgg.nn import UnionFeatureExtractor
    torch.manual_seed(0)
    transfer = torch.softmax(torch.randn(C1 - 1, K), -1)
    grounding = SegmentationGrounding(transfer, FPN, SCALES, W, C1, pool_to=7, relation=False)
    return build_on_maps(mode, context, grounding=grounding, refinement=refinement,
                         union_extractor=UnionFeatureExtractor(FPN, 7, SCALES, W,
                                                               sampling_ratio=2))


@pytest.mark.parametrize("mode", ["predcls", "sgcls", "sgdet"])
@pytest.mark.parametrize("context", ["motifs", "imp"])
def test_object_grounding_alone_takes_plain_union_features_for_the_pairs(mode, context):
    """SEG.RELATION_GROUNDING False (the ablation's "+ object grounding" rung): node features
    grounded in the masks, pair features from the plain union extractor; trains, predicts,
    and the COCO step of the refinement head works too."""
    refinement = dict(in_channels=FPN, num_mask_classes=K, scales=SCALES, hidden_channels=8,
                      num_conv=1)
    model = build_object_grounding_only(mode, context, refinement).train()
    assert model.grounding.union is None and model.grounding.attention is None
    batch = model.prepare_batch(make_batch(sgdet=mode == "sgdet"),
                                torch.Generator().manual_seed(0))
    batch.coco = coco_batch()
    losses = sgg_task_loss(batch, model(batch))
    sum(losses.values()).backward()
    assert model.grounding.box.mask_combiner.weight.grad.abs().sum() > 0
    assert model.union_extractor.box.fc6.weight.grad.abs().sum() > 0
    assert torch.isfinite(losses["loss_mask_segmentation"])
    alone = model.predict(make_batch(sizes=(0, 1), sgdet=mode == "sgdet", seed=2))
    assert alone["rel_scores"].shape == (0, P1)


def test_grounding_and_union_extractor_must_agree():
    from pyg_sgg.nn import UnionFeatureExtractor
    transfer = torch.softmax(torch.randn(C1 - 1, K), -1)
    with pytest.raises(ValueError, match="needs a union_extractor"):
        build_on_maps("sgcls", "motifs", grounding=SegmentationGrounding(
            transfer, FPN, SCALES, W, C1, pool_to=7, relation=False))
    with pytest.raises(ValueError, match="one with it takes none"):
        build_on_maps("sgcls", "motifs", grounding=SegmentationGrounding(
            transfer, FPN, SCALES, W, C1, pool_to=7),
            union_extractor=UnionFeatureExtractor(FPN, 7, SCALES, W))
