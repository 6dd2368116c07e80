"""SGB's causal predictor ('sum' fusion) and VCTree-TDE (Tang et al., CVPR 2020)."""
import pytest
import torch

from pyg_sgg.models import SceneGraphModel, context_options, sgg_task_loss
from pyg_sgg.nn.causal_relation_head import CausalRelationHead
from pyg_sgg.nn.context import MotifsContext

from .conftest import C1, D, DP, P1


def build(mode="predcls", effect_type="none", context="vctree"):
    torch.manual_seed(0)
    return SceneGraphModel.build(
        mode=mode, context=context, num_classes=C1, num_predicates=P1, feature_dim=D,
        pair_feature_dim=DP, hidden_dim=16, pooling_dim=DP, dropout=0.0,
        pred_dist=torch.randn(C1, C1, P1), predictor="causal",
        context_options=context_options(context, embed_dim=8, dropout=0.0,
                                        track_untreated=True),
        pairs_per_image=16, effect_type=effect_type)


def test_head_is_the_sum_of_three_branches_and_tde_their_context_difference():
    torch.manual_seed(0)
    head = CausalRelationHead(16, P1, C1, DP, hidden_channels=12)
    assert torch.equal(head.post_emb.bias, torch.zeros(32))  # SGB: biases 0
    assert abs(float(head.post_emb.weight.std()) - 10 / 16 ** 0.5) < 0.25  # normal, 10/sqrt(H)
    h, h0 = torch.randn(5, 16), torch.randn(5, 16)
    ei = torch.tensor([[0, 1, 2, 4], [1, 0, 3, 2]])
    u, labels = torch.randn(4, DP), torch.randint(1, C1, (5,))
    b = head.branches(h, ei, u, labels)
    torch.testing.assert_close(head(h, ei, u, labels), b.vis + b.ctx + b.frq)
    # SGB's TDE: logits(factual context) - logits(untreated context), same union features
    # and labels: the visual and frequency branches cancel
    torch.testing.assert_close(head.tde(h, h0, ei), head(h, ei, u, labels) - head(h0, ei, u, labels))
    with pytest.raises(ValueError, match="edge_attr"):
        head(h, ei, None, labels)


@pytest.mark.parametrize("context", ["vctree", "motifs"])
def test_encoder_tracks_the_untreated_edge_input(make_batch, context):
    model = build(context=context).train()
    ctx = model.context
    assert torch.equal(ctx.untreated_edge_input, torch.zeros(8 + D))
    batch = make_batch()
    model.prepare_batch(batch)
    losses = sgg_task_loss(batch, model(batch))
    assert {"loss_aux_vis", "loss_aux_ctx", "loss_aux_frq"} <= set(losses)
    assert ("loss_tree" in losses) == (context == "vctree")
    sum(losses.values()).backward()
    factual = torch.cat([ctx.edge_embed(batch.labels), batch.x], -1).mean(0)
    torch.testing.assert_close(ctx.untreated_edge_input, 0.0005 * factual.detach())


@pytest.mark.parametrize("context", ["vctree", "motifs"])
@pytest.mark.parametrize("mode", ["predcls", "sgcls"])
def test_tde_at_test_time(make_batch, mode, context):
    model = build(mode, effect_type="tde", context=context)
    batch = make_batch()
    model.train()
    model.prepare_batch(batch)
    model(batch)  # one training step's moving average
    model.eval()
    model.prepare_batch(batch)
    tde = model(batch).rel_logits
    model.effect_type = "none"
    factual = model(batch).rel_logits
    assert tde.shape == factual.shape and not torch.allclose(tde, factual)
    # the same model scored with the untreated input set to every node's own input: TDE 0
    # (one edge embedding for all classes, so the labels an SGCls decoder predicts agree too)
    same = make_batch(sizes=(3,))
    same.x[:] = same.x[0]
    same.labels[:] = same.labels[0]
    with torch.no_grad():
        model.context.edge_embed.weight[:] = model.context.edge_embed.weight[0]
    model.context.untreated_edge_input.copy_(
        torch.cat([model.context.edge_embed(same.labels[:1]), same.x[:1]], -1)[0])
    model.effect_type = "tde"
    model.prepare_batch(same)
    assert torch.allclose(model(same).rel_logits, torch.zeros(6, P1), atol=1e-5)


def test_tde_needs_motifs_or_vctree_and_the_causal_predictor():
    with pytest.raises(ValueError, match="tde"):
        build(context="transformer", effect_type="tde")
    with pytest.raises(ValueError, match="track_untreated"):
        MotifsContext(D, 16, C1, embed_dim=8)(torch.randn(2, D), torch.rand(2, 9),
                                              torch.eye(C1)[:2], average_edge_input=True)
    from pyg_sgg.config import ConfigError, get_cfg
    from pyg_sgg.engine.validation import check_config
    cfg = get_cfg()
    cfg.merge_from_list(["MODEL.SGG.EFFECT_TYPE", "TDE"])
    with pytest.raises(ConfigError, match="EFFECT_TYPE"):
        check_config(cfg)
    cfg.merge_from_list(["MODEL.SGG.PREDICTOR", "causal", "MODEL.SGG.CONTEXT", "imp"])
    with pytest.raises(ConfigError, match="EFFECT_TYPE"):
        check_config(cfg)
    for context in ("vctree", "motifs"):
        cfg.merge_from_list(["MODEL.SGG.CONTEXT", context])
        check_config(cfg)
