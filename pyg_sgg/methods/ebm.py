"""Energy-based learning for SGG (Suhail et al., CVPR 2021) as a training method, ``ebm``.

A graph energy model :class:`~pyg_sgg.nn.EnergyModel` scores (image graph, scene graph)
pairs. Each iteration (METHODS.md §1.2-1.6):

* positive graph: ground-truth objects, **annotated pairs only**, one-hot labels +
  N(0, DATA_NOISE_STD); negative graph: the batch's objects and **every scored candidate
  pair** with per-row min-max-normalised ``rel_logits`` (and ``obj_logits`` in SGCls/SGDet;
  GT one-hot + noise in PredCls); both with image-graph nodes ``outputs.node_features``
  and 9-d box geometry, image graph and scene graph sharing ``edge_index``;
* the negative states are moved by :class:`~pyg_sgg.methods.sgld.SGLD` (edges only in
  PredCls) along a differentiable path from the logits;
* ``loss_energy = W * (mean(T E_pos) - mean(T E_neg))``,
  ``loss_energy_reg = R * sum_b (E_pos,b^2 + E_neg,b^2)`` (summed, as coded), plus the task
  loss :func:`~pyg_sgg.models.losses.sgg_task_loss`.

The energy model has its own SGD optimiser and is training-only: inference is the base
model alone (the authors' test script never calls it).

Quirks of the authors' code (METHODS.md §1.9) and the switches (default first):

* ``BASE_GRAD``: how the energy terms reach the base model.
  ``"as_coded"`` (default: the paper's Eq. 5, "differentiation through the optimization
  path guides parameter learning of the model", and the authors' code): one graph, so the
  base model receives ``-E_neg`` through the SGLD path (it is pushed to *raise* the energy
  of its predictions) plus the L2 term, and the image features (the trainable extractors)
  get ``E_pos - E_neg``. ``"minimize"`` (our variant: the energy as a learned loss the base
  model lowers): the contrastive and L2 terms see detached inputs and train only the energy
  model; the base model gets ``W * mean(E_neg)`` of its sampled graph through a frozen copy
  of the energy model (one extra forward). ``"detach"``: no energy gradient to the base
  model.
* ``IMAGE_GRAPH False``: the paper's ablation, energy of the scene graph alone.
* ``NORM_EPS``: min-max re-normalisation divides by ``max(range, eps)``; ``0`` = authors (a
  constant row gives NaN).
* ``INPLACE_FEATURE_NOISE``: ``False`` (default) adds the data noise to copies of the image
  features; ``True`` = authors: in place on ``outputs.node_features``, the tensor the task loss
  used, once per side (twice in PredCls/SGCls).
* ``SAMPLER.NOISE_STD`` / ``DATA_NOISE_STD`` are standard deviations with the authors' values
  (their keys ``VAR`` / ``DATA_NOISE_VAR`` are used as stds); ``NOISE_AS_VARIANCE True`` reads
  both numbers as variances instead (std = sqrt), what the authors' key names say.
* Kept as coded, no switch: BatchNorm in the box-geometry embedding runs in train mode during
  sampling; the noise is drawn before the gradient; no ``1/2`` factor on the step.

SGDet: the positive graph is built from ``gt_boxes``/``gt_labels``/``gt_triplets``; its image
features are re-extracted for the GT boxes by the model's trainable box extractor (the
authors' path, ``MODEL.SGG.FEATURES trainable``), else ``batch.gt_x`` when present, else the
features of the highest-IoU detection of the same image (zeros for an image without
detections).
"""
import math
from typing import Dict, Optional

import torch
from torch import Tensor

from ..models.losses import sgg_task_loss
from ..nn.energy_model import EnergyModel
from .base import METHOD_REGISTRY, Method
from .ebm_config import BASE_GRAD_MODES, add_ebm_config
from .energy_graphs import EnergyGraph, negative_graph, positive_graph
from .sgld import SGLD

TASKS = ("predcls", "sgcls", "sgdet")


@METHOD_REGISTRY.register("ebm")
class EBM(Method):
    """Energy-based learning: task loss + contrastive-divergence energy loss (see module).

    Args:
        task: ``"predcls"``, ``"sgcls"`` or ``"sgdet"``.
        energy_model: the :class:`~pyg_sgg.nn.EnergyModel` to train.
        sampler: the :class:`~pyg_sgg.methods.sgld.SGLD` sampler.
        Others: the ``cfg.EBM`` keys of the same names, lower case.
    """

    name = "ebm"

    def __init__(self, *, task: str, energy_model: EnergyModel, sampler: SGLD,
                 loss_weight: float = 1.0, reg_weight: float = 1.0, task_weight: float = 1.0,
                 temperature: float = 1.0, data_noise_std: float = 1e-4,
                 base_grad: str = "as_coded", norm_eps: float = 1e-6,
                 inplace_feature_noise: bool = False, lr: float = 0.01,
                 momentum: float = 0.9, weight_decay: float = 1e-4,
                 grad_norm_clip: float = 5.0):
        if task not in TASKS:
            raise ValueError(f"EBM: task must be one of {TASKS}, "
                             f"got {task!r}")
        if base_grad not in BASE_GRAD_MODES:
            raise ValueError(f"EBM: EBM.BASE_GRAD must be one of "
                             f"{BASE_GRAD_MODES}, got {base_grad!r}")
        self.task = task
        self.energy_model = energy_model
        self.sampler = sampler
        self.loss_weight = loss_weight
        self.reg_weight = reg_weight
        self.task_weight = task_weight
        self.temperature = temperature
        self.data_noise_std = data_noise_std
        self.base_grad = base_grad
        self.norm_eps = norm_eps
        self.inplace_feature_noise = inplace_feature_noise
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.grad_norm_clip = grad_norm_clip
        self.optimizer: Optional[torch.optim.Optimizer] = None
        self.last_energies: Dict[str, float] = {}

    @classmethod
    def from_config(cls, cfg, statistics=None):
        if "EBM" not in cfg:
            add_ebm_config(cfg)
        c = cfg.EBM
        task = cfg.SGG.TASK if "SGG" in cfg and "TASK" in cfg.SGG else "predcls"
        as_std = (lambda v: math.sqrt(v)) if c.NOISE_AS_VARIANCE else (lambda v: v)
        energy_model = EnergyModel(
            c.IMG_DIM, c.NUM_OBJ_CLASSES, c.NUM_PREDICATES, hidden_channels=c.HIDDEN_DIM,
            pos_channels=c.POS_DIM, num_img_layers=c.IMG_LAYERS, num_sg_layers=c.SG_LAYERS,
            alpha=c.ALPHA, softmax_pooling=c.SOFTMAX_POOLING, image_graph=c.IMAGE_GRAPH)
        sampler = SGLD(step_size=c.SAMPLER.STEP_SIZE, num_steps=c.SAMPLER.NUM_STEPS,
                       noise_std=as_std(c.SAMPLER.NOISE_STD), grad_clip=c.SAMPLER.GRAD_CLIP,
                       norm_eps=c.NORM_EPS)
        lr = c.SOLVER.LR
        if lr <= 0:
            lr = cfg.SOLVER.BASE_LR if "SOLVER" in cfg and "BASE_LR" in cfg.SOLVER else 0.01
        return cls(task=task.lower(), energy_model=energy_model, sampler=sampler,
                   loss_weight=c.LOSS_WEIGHT, reg_weight=c.REG_WEIGHT,
                   task_weight=c.TASK_WEIGHT, temperature=c.TEMP,
                   data_noise_std=as_std(c.DATA_NOISE_STD), base_grad=c.BASE_GRAD,
                   norm_eps=c.NORM_EPS, inplace_feature_noise=c.INPLACE_FEATURE_NOISE,
                   lr=lr, momentum=c.SOLVER.MOMENTUM, weight_decay=c.SOLVER.WEIGHT_DECAY,
                   grad_norm_clip=c.SOLVER.GRAD_NORM_CLIP)

    # ----------------------------------------------------------------------------- hooks
    def setup(self, model: torch.nn.Module, trainer) -> None:
        param = next(iter(model.parameters()), None)
        if param is not None:
            self.energy_model.to(param.device)
        self.optimizer = self.build_optimizer()
        if trainer is not None:
            trainer.add_optimizer("ebm", self.optimizer, list(self.energy_model.parameters()))

    def build_optimizer(self) -> torch.optim.Optimizer:
        """SGD over the energy model; no weight decay on biases (authors)."""
        decay, no_decay = [], []
        for name, p in self.energy_model.named_parameters():
            (no_decay if name.endswith("bias") else decay).append(p)
        return torch.optim.SGD([{"params": decay, "weight_decay": self.weight_decay},
                                {"params": no_decay, "weight_decay": 0.0}],
                               lr=self.lr, momentum=self.momentum)

    def after_backward(self, model: torch.nn.Module) -> None:
        # Under DDP the trainer has already averaged the energy model's gradients (it owns
        # the averaging of every optimiser's parameters outside the DDP module).
        if self.grad_norm_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.energy_model.parameters(), self.grad_norm_clip)

    def modules(self) -> Dict[str, torch.nn.Module]:
        return {"energy_model": self.energy_model}

    # ----------------------------------------------------------------------------- graphs
    def _noise(self, x: Tensor) -> Tensor:
        return x + self.data_noise_std * torch.randn_like(x)

    def _image_features(self, feats: Tensor) -> Tensor:
        if self.inplace_feature_noise:  # authors: in place, on the shared tensor
            feats.data.add_(self.data_noise_std * torch.randn_like(feats))
            return feats
        return self._noise(feats)

    def positive_graph(self, batch, outputs) -> EnergyGraph:
        """:func:`~pyg_sgg.methods.energy_graphs.positive_graph` with this method's noise."""
        return positive_graph(batch, outputs, self.task, self._noise, self._image_features)

    def negative_graph(self, batch, outputs, attach: bool = True) -> EnergyGraph:
        """:func:`~pyg_sgg.methods.energy_graphs.negative_graph` with this method's noise."""
        return negative_graph(batch, outputs, self.task, self._noise, self._image_features,
                              self.norm_eps, attach)

    def energy(self, g: EnergyGraph, z_img: Optional[Tensor] = None) -> Tensor:
        """``[B]`` energies of one side (``z_img``: its precomputed image embedding)."""
        return self.energy_model(g.x_img, g.x_sg, g.pos, g.edge_index, g.edge_attr, g.batch,
                                 g.num_graphs, z_img=z_img)

    def sample(self, g: EnergyGraph) -> EnergyGraph:
        """Move the negative states by SGLD (edges only in PredCls).

        The chain differentiates the energy with respect to the states only, and the image
        branch does not see them, so its embedding is computed once (without a graph) and
        reused by every step: the same chain as recomputing it, without ``num_steps``
        image-graph GGNN passes."""
        with torch.no_grad():
            z_img = self.energy_model.image_embedding(g.x_img, g.edge_index, g.batch,
                                                      g.num_graphs)

        def energy_fn(edge_attr: Tensor, x_sg: Optional[Tensor]) -> Tensor:
            return self.energy(g._replace(edge_attr=edge_attr,
                                          x_sg=g.x_sg if x_sg is None else x_sg), z_img)

        move_nodes = self.task != "predcls"
        edge_attr, x_sg = self.sampler.sample(energy_fn, g.edge_attr,
                                              g.x_sg if move_nodes else None)
        return g._replace(edge_attr=edge_attr, x_sg=g.x_sg if x_sg is None else x_sg)

    # ----------------------------------------------------------------------------- loss
    def loss(self, model: torch.nn.Module, batch, outputs) -> Dict[str, Tensor]:
        if outputs.node_features is None:
            raise ValueError("EBM: outputs.node_features is None; the "
                             "energy model's image graph needs the RoI features")
        losses = {k: self.task_weight * v for k, v in sgg_task_loss(batch, outputs).items()}
        self.energy_model.train()  # authors: train mode, also while sampling

        positive = self.positive_graph(batch, outputs)
        negative = self.sample(self.negative_graph(batch, outputs,
                                                   attach=self.base_grad != "detach"))
        if self.base_grad == "as_coded":
            pos_in, neg_in = positive, negative
        else:  # the contrastive and L2 terms train the energy model only
            pos_in = positive._replace(x_img=positive.x_img.detach())
            neg_in = negative._replace(x_img=negative.x_img.detach(),
                                       x_sg=negative.x_sg.detach(),
                                       edge_attr=negative.edge_attr.detach())
        e_pos, e_neg = self.energy(pos_in), self.energy(neg_in)
        T = self.temperature
        losses["loss_energy"] = self.loss_weight * ((T * e_pos).mean() - (T * e_neg).mean())
        losses["loss_energy_reg"] = self.reg_weight * (e_pos.pow(2).sum() + e_neg.pow(2).sum())
        if self.base_grad == "minimize":
            params = {k: v.detach() for k, v in self.energy_model.named_parameters()}
            params.update(dict(self.energy_model.named_buffers()))
            e_base = torch.func.functional_call(
                self.energy_model, params,
                (negative.x_img, negative.x_sg, negative.pos, negative.edge_index,
                 negative.edge_attr, negative.batch, negative.num_graphs))
            losses["loss_energy_base"] = self.loss_weight * (T * e_base).mean()
        self.last_energies = {"energy_pos": float(e_pos.detach().mean()),
                              "energy_neg": float(e_neg.detach().mean())}
        return losses
