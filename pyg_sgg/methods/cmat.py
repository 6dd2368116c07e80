"""``cmat``: Counterfactual critic multi-agent training (Chen et al., ICCV'19) on top of the
task loss, with its two-stage schedule; the critic is :mod:`pyg_sgg.losses.cmat`."""
import logging
from typing import Dict

import torch
from torch import Tensor

from ..losses.cmat import cmat_advantages, triplet_candidates
from ..models.losses import sgg_task_loss
from ..models.sgdet_targets import gt_fields
from .base import METHOD_REGISTRY, Method, Stage
from .plugin_loss_config import add_plugin_loss_config

__all__ = ["CMAT"]

logger = logging.getLogger(__name__)


def ground_truth(batch, task: str):
    """``(gt_boxes, gt_labels, gt_triplets [M, 3] global, gt_image [M])`` of a batch: the
    nodes themselves in SGCls, the kept GT of the detections' images in SGDet."""
    if task == "sgdet":
        gt_boxes, gt_labels, num_gt, triplets, tri_graph = gt_fields(batch)
        gt_ptr = torch.cat([num_gt.new_zeros(1), num_gt.cumsum(0)]).to(triplets.device)
        shift = gt_ptr[tri_graph]
        triplets = torch.stack([triplets[:, 0] + shift, triplets[:, 1] + shift,
                                triplets[:, 2]], 1)
        return gt_boxes, gt_labels, triplets, tri_graph
    rel = batch.gt_rel_index.long()
    triplets = torch.stack([rel[0], rel[1], batch.gt_rel_label.long()], 1)
    return batch.boxes, batch.labels.long(), triplets, batch.batch[rel[0]]


@METHOD_REGISTRY.register("cmat")
class CMAT(Method):
    """Objects are agents that sample their labels ``a_i ~ pi_i = softmax(obj_logits_i)``;
    the reward is the image's triplet Recall@``top_k`` of the generated graph; each agent's
    advantage uses the counterfactual baseline; the loss is

        alpha * (loss_rel + loss_obj) + weight * mean_i(-A_i log pi_i(a_i))

    after the first ``start_fraction`` of the iterations, which train the task loss alone
    (the paper's two stages: cross-entropy first, then CMAT). The generated graph keeps the
    forward pass's pairs, predicates and relation scores (ranked with the sampled labels'
    probabilities): the relation head is not re-run per counterfactual label, so its
    frequency-bias input does not follow the sampled labels. PredCls has no labels to
    sample: CMAT is then the task loss (logged once).

    Args:
        task (str): ``"predcls"``, ``"sgcls"`` or ``"sgdet"``.
        alpha (float): weight of the cross-entropies in the CMAT stage. (default: ``1.0``)
        weight (float): weight of the policy-gradient term. (default: ``1.0``)
        top_k (int): ``K`` of the reward. (default: ``50``)
        exact (bool): baseline over all ``C + 1`` labels instead of the authors'
            approximation (the chosen label, the two most probable others, background).
            (default: ``False``)
        start_fraction (float): share of the iterations trained with the task loss alone.
            (default: ``0.5``)
        seed (int): seed of the label sampling. (default: ``0``)
    """

    name = "cmat"

    def __init__(self, task: str = "sgcls", alpha: float = 1.0, weight: float = 1.0,
                 top_k: int = 50, exact: bool = False, start_fraction: float = 0.5,
                 seed: int = 0):
        self.task = task.lower()
        self.alpha, self.weight, self.top_k = float(alpha), float(weight), int(top_k)
        self.exact, self.start_fraction = bool(exact), float(start_fraction)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.iteration, self.start_iter = 0, 0
        self.reward_evaluations = 0  # of the last step (counterfactual rewards)
        self._warned = False

    @classmethod
    def from_config(cls, cfg, statistics=None) -> "CMAT":
        if "CMAT" not in cfg:
            add_plugin_loss_config(cfg)
        c = cfg.CMAT
        return cls(cfg.SGG.TASK, c.ALPHA, c.WEIGHT, c.TOP_K, c.EXACT, c.START_FRACTION,
                   cfg.SEED)

    def stages(self, max_iter: int):
        self.start_iter = int(round(self.start_fraction * max_iter))
        return [Stage("main", max_iter)]

    @property
    def active(self) -> bool:
        return self.task != "predcls" and self.iteration >= self.start_iter

    def loss(self, model, batch, outputs) -> Dict[str, Tensor]:
        losses = sgg_task_loss(batch, outputs)
        if self.task == "predcls":
            if not self._warned:
                logger.info("CMAT: PredCls has no object labels to sample; training with the "
                            "task loss alone")
                self._warned = True
            return losses
        if not self.active:
            return losses
        losses = {k: self.alpha * v for k, v in losses.items()}
        logits = outputs.obj_logits.float()
        probs = torch.softmax(logits, dim=-1)
        N = probs.size(0)
        if N == 0:
            losses["loss_cmat"] = logits.sum() * 0.0
            return losses
        sampled = torch.multinomial(probs.detach().cpu(), 1, generator=self.generator)
        sampled = sampled.view(-1).to(probs.device)
        rel = torch.softmax(outputs.rel_logits.detach().float(), dim=-1)
        rel_pred = rel[:, 1:].argmax(-1) + 1 if rel.size(0) else rel.new_zeros(0).long()
        obj_score = probs.detach().gather(1, sampled.view(-1, 1)).view(-1)
        ei = batch.edge_index
        pair_score = rel.gather(1, rel_pred.view(-1, 1)).view(-1) * obj_score[ei[0]] * obj_score[ei[1]]
        gt_boxes, gt_labels, gt_triplets, gt_image = ground_truth(batch, self.task)
        cand = triplet_candidates(ei, rel_pred, pair_score, batch.batch, batch.boxes, gt_boxes,
                                  gt_labels, gt_triplets, gt_image, batch.num_graphs,
                                  top_k=self.top_k)
        adv = cmat_advantages(probs, sampled, batch.batch, cand, exact=self.exact)
        self.reward_evaluations = N * (probs.size(1) if self.exact else 4)
        log_pi = torch.log_softmax(logits, dim=-1).gather(1, sampled.view(-1, 1)).view(-1)
        losses["loss_cmat"] = self.weight * -(adv.detach() * log_pi).mean()
        return losses

    def after_step(self, model) -> None:
        self.iteration += 1

    def state_dict(self):
        return {"iteration": self.iteration, "generator": self.generator.get_state()}

    def load_state_dict(self, state) -> None:
        if state:
            self.iteration = int(state["iteration"])
            self.generator.set_state(state["generator"])

    def __repr__(self) -> str:
        return (f"CMAT(task={self.task!r}, exact={self.exact}, top_k={self.top_k}, "
                f"start_fraction={self.start_fraction})")
