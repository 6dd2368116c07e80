import pytest
import torch
from fvcore.common.config import CfgNode as CN
from torch_geometric.data import Batch

from pyg_sgg.data.scene_graph import SceneGraph, add_candidate_pairs
from pyg_sgg.methods import EBM, add_ebm_config
from pyg_sgg.methods.base import METHOD_REGISTRY
from pyg_sgg.models.output import SGGOutput

C, P, D = 6, 5, 12  # object classes, predicates (without background), feature width


def make_batch(counts=(4, 1, 0, 3), seed=0, sgdet=False):
    gen = torch.Generator().manual_seed(seed)
    graphs = []
    for i, n in enumerate(counts):
        xy = torch.rand(n, 2, generator=gen) * 50
        boxes = torch.cat([xy, xy + 5 + torch.rand(n, 2, generator=gen) * 40], 1)
        rel = torch.tensor([[0, 1, 2], [1, 0, 0]]) if n >= 3 else torch.zeros(2, 0)
        rel_label = torch.randint(1, P + 1, (rel.size(1),), generator=gen)
        extra = {}
        if sgdet:
            extra = dict(gt_boxes=boxes + 1, gt_labels=torch.randint(1, C + 1, (n,), generator=gen),
                         num_gt=torch.tensor([n]),
                         gt_triplets=torch.cat([rel.t().long(), rel_label[:, None]], 1))
            rel, rel_label = torch.zeros(2, 0), torch.zeros(0)
        graphs.append(SceneGraph(boxes, torch.randint(1, C + 1, (n,), generator=gen),
                                 (100, 120), rel, rel_label, image_id=i,
                                 x=torch.randn(n, D, generator=gen), **extra))
    return add_candidate_pairs(Batch.from_data_list(graphs))


class TinyModel(torch.nn.Module):
    """A stand-in relation model: SGGOutput from linear layers."""

    def __init__(self):
        super().__init__()
        self.feat = torch.nn.Linear(D, D)
        self.obj = torch.nn.Linear(D, C + 1)
        self.rel = torch.nn.Linear(2 * D, P + 1)

    def forward(self, batch):
        h = self.feat(batch.x)
        obj_logits = self.obj(h)
        rel_logits = self.rel(torch.cat([h[batch.edge_index[0]], h[batch.edge_index[1]]], 1))
        rel_logits.retain_grad()
        return SGGOutput(obj_logits, rel_logits, obj_logits.argmax(1),
                         obj_logits.softmax(1).max(1).values, node_features=h,
                         extras={"obj_target": batch.labels})


def make_method(task='predcls', **ebm):
    cfg = CN()
    cfg.SGG = CN()
    cfg.SGG.TASK = task
    add_ebm_config(cfg)
    cfg.EBM.HIDDEN_DIM, cfg.EBM.POS_DIM, cfg.EBM.SAMPLER.NUM_STEPS = 16, 8, 3
    for k, v in ebm.items():
        cfg.EBM[k] = v
    return METHOD_REGISTRY.get('ebm').from_config(cfg)


class FakeTrainer:
    def __init__(self):
        self.optimizers = {}

    def add_optimizer(self, name, optimizer, params):
        self.optimizers[name] = (optimizer, params)


def test_config_and_registry():
    cfg = add_ebm_config(CN())
    assert cfg.EBM.SAMPLER.STEP_SIZE == 1.0 and cfg.EBM.SAMPLER.NUM_STEPS == 20
    assert cfg.EBM.SAMPLER.NOISE_STD == 0.001 and cfg.EBM.SAMPLER.GRAD_CLIP == 0.01
    assert cfg.EBM.BASE_GRAD == 'as_coded' and not cfg.EBM.INPLACE_FEATURE_NOISE
    assert cfg.EBM.IMAGE_GRAPH
    method = METHOD_REGISTRY.get('ebm').from_config(cfg)
    assert isinstance(method, EBM) and method.task == 'predcls'
    var = make_method(NOISE_AS_VARIANCE=True)
    assert abs(var.sampler.noise_std - 0.001 ** 0.5) < 1e-12
    with pytest.raises(ValueError, match='BASE_GRAD'):
        make_method(BASE_GRAD='up')


@pytest.mark.parametrize('task', ['predcls', 'sgcls', 'sgdet'])
@pytest.mark.parametrize('mode', ['minimize', 'as_coded'])
def test_energy_loss_reaches_relation_logits(task, mode):
    torch.manual_seed(0)
    model, method = TinyModel(), make_method(task, BASE_GRAD=mode)
    trainer = FakeTrainer()
    method.setup(model, trainer)
    batch = make_batch(sgdet=task == 'sgdet')
    out = model(batch)
    losses = method.loss(model, batch, out)
    assert {'loss_rel', 'loss_obj', 'loss_energy', 'loss_energy_reg'} <= set(losses)
    assert ('loss_energy_base' in losses) == (mode == 'minimize')
    assert all(torch.isfinite(v) for v in losses.values())
    energy = sum(v for k, v in losses.items() if k.startswith('loss_energy'))
    energy.backward()
    assert out.rel_logits.grad.abs().sum() > 0  # through the SGLD chain
    assert model.feat.weight.grad.abs().sum() > 0  # through the image graph too
    if task != 'predcls':
        assert model.obj.weight.grad.abs().sum() > 0
    grads = [p.grad for p in method.energy_model.parameters()]
    assert sum(g.abs().sum() for g in grads if g is not None) > 0
    method.after_backward(model)
    opt, params = trainer.optimizers['ebm']
    before = [p.detach().clone() for p in params]
    opt.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, params))


def test_minimize_mode_signs():
    """'minimize': the contrastive terms train only the energy model; the base term only the
    base model, with the sign that lowers the energy of the sampled graph."""
    torch.manual_seed(0)
    model, method = TinyModel(), make_method('sgcls', BASE_GRAD='minimize')
    batch = make_batch()
    out = model(batch)
    losses = method.loss(model, batch, out)
    (losses['loss_energy'] + losses['loss_energy_reg']).backward(retain_graph=True)
    assert out.rel_logits.grad is None or out.rel_logits.grad.abs().sum() == 0
    for p in method.energy_model.parameters():
        p.grad = None
    losses['loss_energy_base'].backward()
    assert out.rel_logits.grad.abs().sum() > 0
    assert all(p.grad is None for p in method.energy_model.parameters())


def test_detach_mode_gives_base_no_energy_gradient():
    torch.manual_seed(0)
    model, method = TinyModel(), make_method('sgcls', BASE_GRAD='detach')
    batch = make_batch()
    out = model(batch)
    losses = method.loss(model, batch, out)
    (losses['loss_energy'] + losses['loss_energy_reg']).backward()
    assert out.rel_logits.grad is None and model.feat.weight.grad is None


def test_inplace_feature_noise_switch():
    torch.manual_seed(0)
    model = TinyModel()
    batch = make_batch()
    for inplace in (False, True):
        method = make_method('predcls', INPLACE_FEATURE_NOISE=inplace, DATA_NOISE_STD=0.1)
        out = model(batch)
        before = out.node_features.detach().clone()
        method.loss(model, batch, out)
        assert torch.equal(before, out.node_features.detach()) != inplace


def test_empty_batches():
    torch.manual_seed(0)
    model = TinyModel()
    for counts in ((0,), (1,), (0, 1), (2, 0)):
        for task in ('predcls', 'sgcls', 'sgdet'):
            method = make_method(task)
            batch = make_batch(counts, sgdet=task == 'sgdet')
            out = model(batch)
            losses = method.loss(model, batch, out)
            assert all(torch.isfinite(v) for v in losses.values()), (counts, task)
            sum(losses.values()).backward()


def test_modules_and_inference_untouched():
    method = make_method()
    assert set(method.modules()) == {'energy_model'}
    assert method.stages(10)[0].max_iter == 10


def test_sgdet_positive_graph_from_gt_fields():
    torch.manual_seed(0)
    model = TinyModel()
    plain, det = make_batch(), make_batch(sgdet=True)
    pos_plain = make_method('predcls').positive_graph(plain, model(plain))
    out = model(det)
    pos_det = make_method('sgdet').positive_graph(det, out)
    assert torch.equal(pos_plain.edge_index, pos_det.edge_index)
    assert torch.equal(pos_det.x_sg.argmax(1), det.gt_labels)
    # each GT box (a detection shifted by 1 px) takes the features of its detection
    assert torch.allclose(pos_det.x_img, out.node_features, atol=1e-3)


@pytest.mark.parametrize('task', ['predcls', 'sgcls', 'sgdet'])
def test_with_scene_graph_model(task):
    """Integration: every registered context encoder, via SGGOutput + batch only."""
    from pyg_sgg.models import SceneGraphModel, context_options
    from pyg_sgg.nn.context.base import CONTEXT_REGISTRY
    torch.manual_seed(0)
    for context in CONTEXT_REGISTRY.names():
        model = SceneGraphModel.build(mode=task, context=context, num_classes=C + 1,
                                      num_predicates=P + 1, feature_dim=D, hidden_dim=16,
                                      pooling_dim=16, use_union_features=False,
                                      context_options=context_options(context, embed_dim=8),
                                      pairs_per_image=8).train()
        batch = make_batch(sgdet=task == 'sgdet')
        batch.det_logits = torch.randn(batch.num_nodes, C + 1)
        batch = model.prepare_batch(batch, torch.Generator().manual_seed(0))
        method = make_method(task)
        method.setup(model, FakeTrainer())
        out = model(batch)
        out.rel_logits.retain_grad()
        losses = method.loss(model, batch, out)
        sum(losses.values()).backward()
        assert out.rel_logits.grad.abs().sum() > 0, context


@pytest.mark.parametrize('task', ['predcls', 'sgcls'])
def test_sampling_reuses_image_embedding_without_changing_the_chain(task):
    import copy
    torch.manual_seed(0)
    model, method = TinyModel(), make_method(task)
    batch = make_batch()
    out = model(batch)
    g = method.negative_graph(batch, out)
    method.energy(g)  # initialise the lazy layers
    reference = copy.deepcopy(method)  # same weights and BatchNorm statistics

    def full_energy(edge_attr, x_sg):  # the image graph recomputed at every step
        h = g._replace(edge_attr=edge_attr, x_sg=g.x_sg if x_sg is None else x_sg)
        return reference.energy_model(h.x_img, h.x_sg, h.pos, h.edge_index, h.edge_attr,
                                      h.batch, h.num_graphs)

    torch.manual_seed(1)
    edges, nodes = reference.sampler.sample(full_energy, g.edge_attr,
                                            None if task == 'predcls' else g.x_sg)
    torch.manual_seed(1)
    moved = method.sample(g)
    torch.testing.assert_close(moved.edge_attr, edges)
    if task != 'predcls':
        torch.testing.assert_close(moved.x_sg, nodes)
    assert moved.edge_attr.requires_grad  # the path to the base model is kept


def test_without_image_graph_the_energy_ignores_the_image():
    """The paper's ablation (EBM.IMAGE_GRAPH False): energy of the scene graph alone."""
    torch.manual_seed(0)
    model, method = TinyModel(), make_method('predcls', IMAGE_GRAPH=False)
    method.setup(model, FakeTrainer())
    assert method.energy_model.img_embed is None and method.energy_model.img_gnn is None
    batch = make_batch()
    out = model(batch)
    g = method.positive_graph(batch, out)
    e = method.energy(g)
    torch.testing.assert_close(method.energy(g._replace(x_img=torch.randn_like(g.x_img))), e)
    losses = method.loss(model, batch, out)
    (losses['loss_energy'] + losses['loss_energy_reg']).backward()
    assert out.rel_logits.grad.abs().sum() > 0  # still through the SGLD path


class ConstantObjects(TinyModel):
    """Every object's logits equal: a constant state row, 0 / 0 in the authors' min-max."""

    def forward(self, batch):
        out = super().forward(batch)
        out.obj_logits = out.obj_logits * 0.0
        return out


@pytest.mark.parametrize("norm_eps, finite", [(0.0, False), (1e-6, True)])
def test_norm_eps_0_makes_the_energy_loss_non_finite_for_the_guard(norm_eps, finite):
    """``EBM.NORM_EPS 0`` (the authors' min-max) on a constant row gives a NaN energy loss,
    which the trainer's guard stops on in one line (``tests/engine/test_trainer.py``); the
    default floor keeps it finite."""
    torch.manual_seed(0)
    model = ConstantObjects()
    method = make_method('sgcls', NORM_EPS=norm_eps)
    losses = method.loss(model, make_batch(), model(make_batch()))
    assert all(torch.isfinite(v) for v in losses.values()) == finite
    if not finite:
        assert not torch.isfinite(losses["loss_energy"])


def test_ten_times_the_sgld_step_stays_finite():
    torch.manual_seed(0)
    model = TinyModel()
    for task in ('predcls', 'sgcls'):
        method = make_method(task)
        method.sampler.step_size *= 10
        method.sampler.num_steps = 20
        for seed in range(5):
            batch = make_batch(seed=seed)
            losses = method.loss(model, batch, model(batch))
            assert all(torch.isfinite(v) for v in losses.values()), (task, seed)
            sum(losses.values()).backward()
            assert all(p.grad is None or torch.isfinite(p.grad).all()
                       for p in model.parameters())
