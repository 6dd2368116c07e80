"""HML end to end through the real trainer: 2 stages, CR + MR, resume mid-stage."""
import os
import signal

import torch
from torch_geometric.data import Data

from pyg_sgg.config import get_cfg
from pyg_sgg.engine.trainer import Trainer, seed_all
from pyg_sgg.methods import METHOD_REGISTRY, build_method
from pyg_sgg.methods.hml import HML, add_hml_config, weighted_ce
from pyg_sgg.models.output import SGGOutput

P = 4  # predicates 1..4
COUNTS = [0, 40, 5, 20, 2]  # stage 0 (size 2) = {0, 1, 3}


class ToySGG(torch.nn.Module):
    """Scores each "edge" row of ``batch.x``; named like SceneGraphModel's parts."""

    def __init__(self):
        super().__init__()
        self.context = torch.nn.Linear(4, 8)
        self.drop = torch.nn.Dropout(0.2)
        self.relation_head = torch.nn.Module()
        self.relation_head.lin = torch.nn.Linear(8, P + 1)
        self.relation_head.freq_bias = torch.nn.Parameter(torch.zeros(P + 1))

    def forward(self, batch):
        h = self.drop(torch.relu(self.context(batch.x)))
        rel = self.relation_head.lin(h) + self.relation_head.freq_bias
        n = batch.x.size(0)
        return SGGOutput(obj_logits=rel.new_zeros(n, 2), rel_logits=rel,
                         obj_labels=batch.x.new_zeros(n, dtype=torch.long),
                         obj_scores=batch.x.new_ones(n))


def toy_set(n=16, seed=3):
    g = torch.Generator().manual_seed(seed)
    items = []
    for _ in range(n):
        x = torch.randn(5, 4, generator=g)
        label = (x[:, 0] > 0).long() * (1 + (x[:, 1] > 0).long() + 2 * (x[:, 2] > 0.8).long())
        items.append(Data(x=x, edge_label=label.clamp(max=P)))
    return items


def cfg_for(out, iters=4):
    cfg = get_cfg(extensions=False)
    cfg.merge_from_list([
        "OUTPUT_DIR", str(out), "MODEL.DEVICE", "cpu", "SEED", "5",
        "SOLVER.MAX_ITER", str(iters), "SOLVER.IMS_PER_BATCH", "4", "SOLVER.BASE_LR", "0.1",
        "SOLVER.STEPS", "(100,)", "SOLVER.WARMUP_ITERS", "2", "SOLVER.CHECKPOINT_PERIOD", "3",
        "SOLVER.LOG_PERIOD", "100", "TEST.EVAL_PERIOD", "0"])
    return cfg


class StopAt(HML):
    """HML that sends itself SIGTERM after ``at`` steps (the trainer stops with a
    checkpoint after that iteration)."""

    def __init__(self, at, **kw):
        super().__init__(**kw)
        self.at, self.count = at, 0

    def after_step(self, model):
        super().after_step(model)
        self.count += 1
        if self.count == self.at:
            os.kill(os.getpid(), signal.SIGTERM)


def _train(out, at=0, resume=False):
    cfg = cfg_for(out)
    seed_all(cfg.SEED)
    kw = dict(predicate_counts=COUNTS, stage_sizes=[2], cr_form="l2")
    method = StopAt(at, **kw) if at else HML(**kw)
    trainer = Trainer(cfg, ToySGG(), method, toy_set())
    try:
        trainer.train(resume=resume)
    except KeyboardInterrupt:
        return None
    return trainer


def test_two_stages_and_resume_mid_stage_equals_uninterrupted(tmp_path):
    ref = _train(tmp_path / "ref")
    m = ref.method
    assert [s.max_iter for s in m.stages(4)] == [4, 8]  # stage 1 twice as long
    assert [c.tolist() for c in m.stage_classes] == [[0, 1, 3], [0, 1, 2, 3, 4]]
    assert m.parent is None and m.stage_index == 1
    assert (tmp_path / "ref" / "model_stage0.pth").is_file()
    assert (tmp_path / "ref" / "model_stage1.pth").is_file()
    # stage 1 logged the CR and MR losses
    ck = torch.load(tmp_path / "ref" / "model_stage0.pth", weights_only=False)
    assert ck["method"]["parent"] is not None and ck["method"]["importance"]["theta_star"]

    assert _train(tmp_path / "run", at=7) is None  # stopped in stage 1 (iteration 3 of 8)
    resumed = _train(tmp_path / "run", resume=True)
    a, b = ref.model.state_dict(), resumed.model.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    sa, sb = ref.method.state_dict(), resumed.method.state_dict()
    for key in ("fisher_star", "omega_star", "theta_star"):
        for n in sa["importance"][key]:
            assert torch.equal(sa["importance"][key][n], sb["importance"][key][n])


def test_stage1_losses_and_zero_at_start(tmp_path):
    trainer = _train(tmp_path / "a")
    m = trainer.method
    batch = trainer.collate_fn(toy_set(4, seed=9))
    # a child equal to its parent: CR and MR are exactly 0 (parent in eval mode: the
    # supplementary's form; the code's form keeps the parent's dropout on)
    m.cr_code_form = False
    m._parent_state = None
    m._make_parent(trainer.model)
    m.importance.end_stage(trainer.model)
    trainer.model.eval()
    out = trainer.model(batch)
    losses = m.loss(trainer.model, batch, out)
    assert set(losses) >= {"loss_rel", "loss_obj", "loss_cr_rel", "loss_mr"}
    assert float(losses["loss_cr_rel"].detach()) < 1e-7 and float(losses["loss_mr"].detach()) == 0.0
    # the stage weights: class 2, 4 ignored in stage 0
    w0 = m.stage_weights[0]
    assert w0[2] == 0 and w0[4] == 0 and w0[1] > 0 and w0[3] > w0[1]
    logits = torch.randn(3, P + 1)
    assert float(weighted_ce(logits, torch.tensor([2, 4, 2]), w0)) == 0.0
    want = torch.nn.functional.cross_entropy(logits, torch.tensor([1, 3, 0]), weight=w0)
    assert torch.allclose(weighted_ce(logits, torch.tensor([1, 3, 0]), w0), want)


def test_config_and_composition():
    cfg = get_cfg(extensions=False)
    add_hml_config(cfg)
    cfg.merge_from_list(["HML.STAGE_SIZES", "[1, 2]", "HML.ITER_FACTORS", "[1.0, 1.5, 3.0]",
                         "HML.CR.FORM", "kl", "HML.MR.IMPORTANCE", "hml_code"])
    m = METHOD_REGISTRY.get("hml").from_config(cfg, predicate_counts=COUNTS)
    assert [s.max_iter for s in m.stages(10)] == [10, 15, 30]
    assert m.cr_form == "kl" and m.importance.importance == "hml_code"
    st = m.state_dict()
    m2 = HML.from_config(cfg)
    m2.load_state_dict(st)
    assert [c.tolist() for c in m2.stage_classes] == [c.tolist() for c in m.stage_classes]
    composed = build_method("hml+ce", cfg)  # the stages are HML's
    assert [s.max_iter for s in composed.stages(4)] == [4, 6, 12]
    items = [Data(x=torch.zeros(2, 4), edge_label=torch.tensor(lab))
             for lab in ([0, 2], [1, 0], [4, 4], [0, 0], [3, 2])]
    hml_part = composed.methods[0]
    hml_part.build(COUNTS)
    stage0 = composed.stages(4)[0]
    assert [int(d.edge_label.max()) for d in composed.stage_dataset(stage0, items)] == \
        [int(d.edge_label.max()) for d in hml_part.stage_dataset(stage0, items)]


class Spy(HML):
    """Records the child, the parent and the optimiser state when stage 1 starts."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.seen = {}

    def on_stage_start(self, stage, model, trainer):
        super().on_stage_start(stage, model, trainer)
        if self.stage_index == 1:
            self.seen = {"child": {k: v.clone() for k, v in model.state_dict().items()},
                         "parent": {k: v.clone() for k, v in self.parent.state_dict().items()},
                         "optimizer_state": len(trainer.optimizers["model"].state)}


def _spy(out, child_init):
    cfg = cfg_for(out)
    seed_all(cfg.SEED)
    model = ToySGG()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    method = Spy(predicate_counts=COUNTS, stage_sizes=[2], child_init=child_init)
    Trainer(cfg, model, method, toy_set()).train()
    return initial, method.seen


def test_stage1_child_starts_from_the_initial_weights_not_the_parent(tmp_path):
    initial, seen = _spy(tmp_path / "fresh", "fresh")
    assert all(torch.equal(initial[k], v) for k, v in seen["child"].items())
    assert any(not torch.equal(initial[k], v) for k, v in seen["parent"].items())
    assert seen["optimizer_state"] == 0  # a fresh optimiser (momentum forgotten)
    _, warm = _spy(tmp_path / "warm", "parent")
    assert all(torch.equal(warm["parent"][k], v) for k, v in warm["child"].items())
    assert warm["optimizer_state"] > 0


def test_stage_data_keeps_the_images_with_the_stage_predicates():
    from pyg_sgg.methods.stage_data import images_with_predicates
    items = [Data(x=torch.zeros(2, 4), edge_label=torch.tensor(lab))
             for lab in ([0, 2], [1, 0], [4, 4], [0, 0], [3, 2])]
    assert images_with_predicates(items, [1, 3]).tolist() == [1, 4]
    assert images_with_predicates(items, []).tolist() == []
    m = HML(predicate_counts=COUNTS, stage_sizes=[2])  # stage 0 = {1, 3}
    stage0, stage1 = m.stages(4)
    sub = m.stage_dataset(stage0, items)
    assert [int(d.edge_label.max()) for d in sub] == [1, 3]
    assert len(m.stage_dataset(stage1, items)) == 4  # every image with a relation
    new = HML(predicate_counts=COUNTS, stage_sizes=[2], stage_data="new_predicates")
    assert len(new.stage_dataset(stage1, items)) == 3  # images with 2 or 4
    assert HML(predicate_counts=COUNTS, stage_sizes=[2], stage_data="all").stage_dataset(
        stage0, items) is items
