"""HML — Hierarchical Memory Learning (Deng et al., ECCV 2022), METHODS.md §3.

Coarse-to-fine stages over the predicates (:func:`predicate_stages`); each stage trains with
a class-weighted relation cross-entropy over its predicates; from stage 1 on, the frozen
previous-stage model ("parent") adds Concept Reconstruction (:func:`cr_loss`, on the same
candidate pairs) and the parameter importance adds Model Reconstruction
(:class:`ParameterImportance`). Loss keys: ``loss_rel``, ``loss_obj`` (+ ``loss_tree``),
``loss_cr_rel``, ``loss_cr_obj`` (SGCls/SGDet), ``loss_mr``.

As the authors run it (defaults): the published VG150 class weights where the vocabulary is
VG150's (``class_weight="authors"``); every stage's child starts from the model as built
(detector-initialised extractors, fresh heads) with a fresh optimiser state
(``child_init="fresh"``); CR at the code's scale (``cr_code_form``); F* and Ω* normalised over
all covered values at once; stage ``s`` trains on the images that contain one of its
predicates (``stage_data``, a reconstruction: the authors' filter was never published).
"""
import copy
import logging
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..models.losses import sgg_task_loss
from .base import METHOD_REGISTRY, Method, Stage
from .class_weights import authors_stage_weights, stage_class_weights
from .concept_reconstruction import cr_loss, misalign_background
from .hml_config import CHILD_INITS, STAGE_DATA, add_hml_config
from .parameter_importance import ParameterImportance
from .predicate_hierarchy import predicate_stages
from .stage_data import images_with_predicates

__all__ = ["HML", "add_hml_config"]  # the keys live in hml_config.py
logger = logging.getLogger(__name__)


def weighted_ce(logits: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """PyTorch weighted CE (mean over the targets' weights); 0 when no target has weight."""
    target = target.long()
    weight = weight.to(logits.device)
    if target.numel() == 0 or float(weight[target].sum()) == 0.0:
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), target, weight=weight.float())


@METHOD_REGISTRY.register("hml")
class HML(Method):
    """Hierarchical Memory Learning.

    Args:
        predicate_counts (array [P + 1], optional): training counts; otherwise read in
            :meth:`setup` from ``trainer.statistics`` / ``model.statistics`` or computed from
            ``trainer.train_set`` with :func:`pyg_sgg.data.statistics.get_statistics`.
        pred_dist (array [C + 1, C + 1, P + 1], optional): for ``split="cluster"``.
        stage_sizes, split, num_clusters: see :func:`predicate_stages`.
        iter_factors (list of float): stage lengths as multiples of ``max_iter``.
        predicate_names (list of str, optional): ``[P + 1]`` names (background first), for
            ``class_weight="authors"``; read like ``predicate_counts`` otherwise.
        class_weight: ``"authors"`` (HML's published VG150 vectors when the names are
            VG150's and the stages the authors' two, else ``"inverse"``), or a mode of
            :func:`stage_class_weights`; beta, bg_ratio: see there.
        child_init (str): ``"fresh"``: each stage's child starts from the weights the model
            had when training began and with a fresh optimiser state (the authors build a
            new model per stage); ``"parent"``: it continues from the parent's weights.
        stage_data (str): ``"stage_predicates"``: stage ``s`` trains on the images with a
            relation among its predicates (the last stage: every image with a relation);
            ``"new_predicates"``: among the predicates it adds; ``"all"``: every image.
        cr_weight, cr_form, cr_code_form, cr_misalign: Concept Reconstruction.
        mr_weight, mr_distance, mr_importance, mr_alpha, mr_include, mr_exclude,
            mr_normalise: Model Reconstruction (:class:`ParameterImportance`).
        task (str): ``"predcls"``, ``"sgcls"`` or ``"sgdet"``.
        save_stage_checkpoints (bool): ``trainer.save_checkpoint("model_stage<s>")``.
        mr_fused_grad (bool): return ``loss_mr`` detached and add its exact gradient to the
            covered parameters in :meth:`after_backward` (a few fused passes; autograd
            through ``loss_mr`` otherwise). The trainer calls ``after_backward`` after
            ``backward()``; so must any other loop. (default: ``True``)
    """

    name = "hml"

    def __init__(self, predicate_counts=None, pred_dist=None, stage_sizes: Sequence[int] = (10,),
                 split: str = "frequency", num_clusters: int = 0,
                 iter_factors: Sequence[float] = (1.0, 2.0), class_weight: str = "authors",
                 beta: float = 0.999, bg_ratio: float = 0.25, cr_weight: float = 1.0,
                 cr_form: str = "l2", cr_code_form: bool = True, cr_misalign: bool = False,
                 mr_weight: float = 1.0, mr_distance: str = "l2", mr_importance: str = "rwalk",
                 mr_alpha: float = 0.5, mr_include: Sequence[str] = ("context", "relation_head"),
                 mr_exclude: Sequence[str] = ("freq_bias",), task: str = "predcls",
                 save_stage_checkpoints: bool = True, mr_fused_grad: bool = True,
                 predicate_names: Optional[Sequence[str]] = None, child_init: str = "fresh",
                 stage_data: str = "stage_predicates", mr_normalise: str = "global"):
        if child_init not in CHILD_INITS:
            raise ValueError(f"HML: HML.CHILD_INIT must be one of {CHILD_INITS}, "
                             f"got {child_init!r}")
        if stage_data not in STAGE_DATA:
            raise ValueError(f"HML: HML.STAGE_DATA must be one of {STAGE_DATA}, "
                             f"got {stage_data!r}")
        self.mr_fused_grad = mr_fused_grad
        self.predicate_names = list(predicate_names) if predicate_names is not None else None
        self.child_init, self.stage_data = child_init, stage_data
        self._initial_state: Optional[Dict[str, Tensor]] = None
        self._mr_grad = None
        self.stage_sizes, self.split = list(stage_sizes), split
        self.num_clusters = num_clusters or None
        self.iter_factors = [float(f) for f in iter_factors] or [1.0]
        self.class_weight, self.beta, self.bg_ratio = class_weight, beta, bg_ratio
        self.cr_weight, self.cr_form = cr_weight, cr_form
        self.cr_code_form, self.cr_misalign = cr_code_form, cr_misalign
        self.mr_weight = mr_weight
        self.importance = ParameterImportance(mr_include, mr_exclude, alpha=mr_alpha,
                                              importance=mr_importance, distance=mr_distance,
                                              normalise=mr_normalise)
        self.task, self.save_stage_checkpoints = task, save_stage_checkpoints
        self.pred_dist = pred_dist
        self.stage_classes: List[Tensor] = []
        self.stage_weights: List[Tensor] = []
        self.stage_index = 0
        self.parent: Optional[torch.nn.Module] = None
        self._parent_state: Optional[Dict[str, Tensor]] = None
        self.weight_source = None  # "authors" or the stage_class_weights mode used
        if predicate_counts is not None:
            self.build(predicate_counts, pred_dist)

    @classmethod
    def from_config(cls, cfg, statistics: Optional[Dict[str, Any]] = None,
                    predicate_counts=None, pred_dist=None) -> "HML":
        """Build from ``cfg.HML``; the stages come from ``statistics``
        (:func:`pyg_sgg.data.statistics.get_statistics` of the training set) or the explicit
        ``predicate_counts`` / ``pred_dist``."""
        if "HML" not in cfg:
            add_hml_config(cfg)
        names = None
        if statistics is not None:
            predicate_counts = statistics.get("predicate_counts", predicate_counts)
            pred_dist = statistics.get("pred_dist", pred_dist)
            names = statistics.get("rel_classes")
        c = cfg.HML
        task = cfg.SGG.TASK if "SGG" in cfg and "TASK" in cfg.SGG else "predcls"
        return cls(predicate_counts, pred_dist, stage_sizes=c.STAGE_SIZES, split=c.SPLIT,
                   num_clusters=c.NUM_CLUSTERS, iter_factors=c.ITER_FACTORS,
                   class_weight=c.CLASS_WEIGHT, beta=c.BETA, bg_ratio=c.BG_RATIO,
                   cr_weight=c.CR.WEIGHT, cr_form=c.CR.FORM, cr_code_form=c.CR.CODE_FORM,
                   cr_misalign=c.CR.MISALIGN, mr_weight=c.MR.WEIGHT,
                   mr_distance=c.MR.DISTANCE, mr_importance=c.MR.IMPORTANCE,
                   mr_alpha=c.MR.ALPHA, mr_include=c.MR.INCLUDE, mr_exclude=c.MR.EXCLUDE,
                   task=task, save_stage_checkpoints=c.SAVE_STAGE_CHECKPOINTS,
                   mr_fused_grad=c.MR.FUSED_GRAD, predicate_names=names,
                   child_init=c.CHILD_INIT, stage_data=c.STAGE_DATA,
                   mr_normalise=c.MR.NORMALISE)

    # -- statistics → stages and weights --------------------------------------------------
    def build(self, predicate_counts, pred_dist=None) -> None:
        """Stage classes and class weights from training ``predicate_counts [P + 1]``."""
        self.predicate_counts = torch.as_tensor(predicate_counts).detach().cpu().double()
        self.stage_classes = predicate_stages(
            self.predicate_counts, self.stage_sizes, self.split,
            pred_dist if pred_dist is not None else self.pred_dist, self.num_clusters)
        weights, mode = None, self.class_weight
        if mode == "authors":
            weights = authors_stage_weights(self.predicate_names, self.stage_classes)
            if weights is None:
                mode = "inverse"
                logger.info("HML: the published class weights are VG150's (two stages, the "
                            "authors' ten coarse predicates); using 'inverse' weights here")
        if weights is None:
            weights = [stage_class_weights(self.predicate_counts, c, mode, self.beta,
                                           self.bg_ratio) for c in self.stage_classes]
        self.stage_weights = weights
        self.weight_source = "authors" if mode == "authors" else mode

    def setup(self, model, trainer) -> None:
        if self.child_init == "fresh":  # the model as built: every stage's child starts here
            self._initial_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if self.stage_classes:
            return
        # not given to from_config / the constructor: computed from the training set
        stats = None
        if trainer is not None and trainer.train_set is not None:
            from ..data.statistics import get_statistics
            stats = get_statistics(trainer.train_set)
            if self.predicate_names is None:
                self.predicate_names = stats.get("rel_classes")
        if stats is None or stats.get("predicate_counts") is None:
            raise ValueError("HML: needs training statistics with field 'predicate_counts' "
                             "(build_method(name, cfg, statistics) or the constructor)")
        self.build(stats["predicate_counts"], stats.get("pred_dist"))

    def num_stages(self) -> int:
        return len(self.stage_classes) if self.stage_classes else len(self.stage_sizes) + 1

    def stages(self, max_iter: int) -> List[Stage]:
        out = []
        for s in range(self.num_stages()):
            f = self.iter_factors[min(s, len(self.iter_factors) - 1)]
            out.append(Stage(f"hml_stage{s}", max(1, int(round(max_iter * f)))))
        return out

    # -- hooks ------------------------------------------------------------------------------
    @staticmethod
    def _index(stage: Stage) -> int:
        return int(stage.name.rsplit("stage", 1)[-1])

    def _make_parent(self, model) -> None:
        """The frozen parent: a copy of ``model`` (weights from a pending state if any)."""
        self.parent = copy.deepcopy(model)
        for p in self.parent.parameters():
            p.requires_grad_(False)
        if self._parent_state is not None:
            self.parent.load_state_dict(self._parent_state)
            self._parent_state = None
        self.parent.train(self.cr_code_form)

    def on_stage_start(self, stage, model, trainer) -> None:
        self.stage_index = self._index(stage)
        if self.stage_index > 0 and (self.parent is None or self._parent_state is not None):
            # on resume the trainer loads the parent's weights afterwards (load_state_dict)
            self._make_parent(model)
        if self.stage_index > 0 and self._initial_state is not None:
            # a fresh child (on resume the checkpoint then overwrites model and optimiser)
            model.load_state_dict(self._initial_state)
            if trainer is not None and hasattr(trainer, "reset_optimizer_state"):
                trainer.reset_optimizer_state("model")

    def stage_dataset(self, stage, dataset):
        """The training images of ``stage`` (see ``stage_data``); the trainer calls this."""
        if self.stage_data == "all" or not self.stage_classes:
            return dataset
        s = self._index(stage)
        wanted = self.stage_classes[min(s, len(self.stage_classes) - 1)]
        if self.stage_data == "new_predicates" and s > 0:
            before = set(self.stage_classes[s - 1].tolist())
            wanted = torch.tensor([c for c in wanted.tolist() if c not in before])
        keep = images_with_predicates(dataset, [int(c) for c in wanted if int(c) != 0])
        if len(keep) == len(dataset):
            return dataset
        logger.info("HML %s: %d of %d training images contain its predicates", stage.name,
                    len(keep), len(dataset))
        return torch.utils.data.Subset(dataset, keep.tolist())

    def on_stage_end(self, stage, model, trainer) -> None:
        s = self._index(stage)
        self.importance.end_stage(model)
        self._parent_state = None
        self.parent = None
        if s + 1 < self.num_stages():
            self._make_parent(model)
        if self.save_stage_checkpoints and hasattr(trainer, "save_checkpoint"):
            trainer.save_checkpoint(f"model_stage{s}", tag_last=False)

    def loss(self, model, batch, outputs) -> Dict[str, Tensor]:
        losses = sgg_task_loss(batch, outputs)
        if self.stage_weights:
            s = min(self.stage_index, len(self.stage_weights) - 1)
            losses["loss_rel"] = weighted_ce(outputs.rel_logits, batch.edge_label,
                                             self.stage_weights[s])
        if self.stage_index > 0 and self.parent is not None:
            if self.cr_weight > 0:
                losses.update(self._cr(batch, outputs))
            if self.mr_weight > 0:
                if self.mr_fused_grad:  # value now, gradient added in after_backward
                    res = self.importance.loss_and_grad(model)
                    if res is not None:
                        value, params, grads, grad_scale = res
                        self._mr_grad = (params, grads, grad_scale * self.mr_weight)
                        losses["loss_mr"] = self.mr_weight * value
                else:
                    mr = self.importance.loss(model)
                    if mr is not None:
                        losses["loss_mr"] = self.mr_weight * mr
        return losses

    def _cr(self, batch, outputs) -> Dict[str, Tensor]:
        with torch.no_grad():
            self.parent.train(self.cr_code_form)
            p_out = self.parent(batch)
        p_rel = p_out.rel_logits
        if self.cr_misalign:
            p_rel = misalign_background(p_rel, batch.edge_label)
        out = {"loss_cr_rel": self.cr_weight * cr_loss(p_rel, outputs.rel_logits,
                                                       self.cr_form, self.cr_code_form)}
        if "obj_target" in outputs.extras:  # SGCls / SGDet: refined object logits too
            c, p = outputs.obj_logits.float().softmax(-1), p_out.obj_logits.float().softmax(-1)
            if self.cr_code_form:
                l_obj = 0.5 * F.mse_loss(c, p) * c.size(0) if c.numel() else c.sum() * 0.0
            else:
                l_obj = cr_loss(p_out.obj_logits, outputs.obj_logits, self.cr_form)
            out["loss_cr_obj"] = self.cr_weight * l_obj
        return out

    def _tracks_importance(self) -> bool:  # not needed in the last stage
        return self.mr_weight > 0 and self.stage_index + 1 < self.num_stages()

    def after_backward(self, model) -> None:
        if self._mr_grad is not None:
            self.importance.add_grad(*self._mr_grad)
            self._mr_grad = None
        if self._tracks_importance():
            self.importance.after_backward(model)

    def after_step(self, model) -> None:
        if self._tracks_importance():
            self.importance.after_step(model)

    # -- state ------------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        parent = self.parent.state_dict() if self.parent is not None else self._parent_state
        return {"stage_index": self.stage_index,
                "stage_classes": [c.clone() for c in self.stage_classes],
                "stage_weights": [w.clone() for w in self.stage_weights],
                "importance": self.importance.state_dict(),
                "initial": ({k: v.detach().cpu().clone() for k, v in self._initial_state.items()}
                            if self._initial_state is not None else None),
                "parent": ({k: v.detach().cpu().clone() for k, v in parent.items()}
                           if parent is not None else None)}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if not state:
            return
        self.stage_index = state["stage_index"]
        if state.get("stage_classes"):
            self.stage_classes = [c.clone() for c in state["stage_classes"]]
            self.stage_weights = [w.clone() for w in state["stage_weights"]]
        self.importance.load_state_dict(state["importance"])
        if state.get("initial") is not None:
            self._initial_state = {k: v.clone() for k, v in state["initial"].items()}
        parent = state.get("parent")
        if parent is None:
            self.parent, self._parent_state = None, None
        elif self.parent is not None:
            self.parent.load_state_dict(parent)
        else:
            self._parent_state = parent  # applied by the next on_stage_start

    def __repr__(self) -> str:
        return (f"HML(stages={self.num_stages()}, split={self.split!r}, "
                f"cr={self.cr_form!r}, mr={self.importance.importance!r})")
