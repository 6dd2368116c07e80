"""Frequency bias ``log p(predicate | subject class, object class)`` (Zellers et al. 2018)."""
from typing import Optional

import torch
from torch import Tensor


class FrequencyBias(torch.nn.Module):
    r"""The frequency baseline of `"Neural Motifs" <https://arxiv.org/abs/1711.06640>`_ as a
    learnable table, initialised from training statistics.

    .. math::
        \mathbf{b}_{ij} = \mathbf{W}\left[c_i (C + 1) + c_j\right] \in \mathbb{R}^{P + 1},
        \qquad \mathbf{W}_{(s, o)} \leftarrow \log p(\cdot \mid s, o)

    With soft class distributions :math:`\mathbf{p}_i, \mathbf{p}_j` the bias is the
    expectation :math:`(\mathbf{p}_i \otimes \mathbf{p}_j)^\top \mathbf{W}`.

    Args:
        num_classes (int): object classes including background, :math:`C + 1`.
        num_predicates (int): predicates including background, :math:`P + 1`.
        pred_dist (Tensor, optional): ``[C + 1, C + 1, P + 1]`` initial table, e.g. the
            statistics' ``pred_dist`` (log-normalised counts); zeros if ``None``.
            (default: :obj:`None`)

    Shapes:
        - **input:** subject labels :math:`(E)`, object labels :math:`(E)` (long), or
          subject / object distributions :math:`(E, C + 1)` for :meth:`forward_dist`
        - **output:** :math:`(E, P + 1)`
    """
    def __init__(self, num_classes: int, num_predicates: int,
                 pred_dist: Optional[Tensor] = None):
        super().__init__()
        self.num_classes = int(num_classes)
        self.num_predicates = int(num_predicates)
        if pred_dist is not None:
            pred_dist = torch.as_tensor(pred_dist, dtype=torch.float32)
            want = (self.num_classes, self.num_classes, self.num_predicates)
            if tuple(pred_dist.shape) != want:
                raise ValueError(f"FrequencyBias: 'pred_dist' has shape "
                                 f"{tuple(pred_dist.shape)}, expected {want}")
            self.register_buffer("pred_dist", pred_dist.clone(), persistent=False)
        else:
            self.pred_dist = None
        self.embedding = torch.nn.Embedding(self.num_classes ** 2, self.num_predicates)
        self.reset_parameters()

    def reset_parameters(self):
        with torch.no_grad():
            if self.pred_dist is None:
                self.embedding.weight.zero_()
            else:
                self.embedding.weight.copy_(
                    self.pred_dist.reshape(-1, self.num_predicates))

    def forward(self, subj_labels: Tensor, obj_labels: Tensor) -> Tensor:
        """Bias for hard label pairs: ``[E]``, ``[E]`` → ``[E, P + 1]``."""
        return self.embedding(subj_labels * self.num_classes + obj_labels)

    def forward_dist(self, subj_dist: Tensor, obj_dist: Tensor) -> Tensor:
        """Expected bias under soft class distributions ``[E, C + 1]`` (rows sum to 1)."""
        joint = subj_dist.unsqueeze(2) * obj_dist.unsqueeze(1)
        return joint.reshape(joint.size(0), -1) @ self.embedding.weight

    def for_pairs(self, edge_index: Tensor, obj_labels: Optional[Tensor] = None,
                  obj_dist: Optional[Tensor] = None) -> Tensor:
        """Bias of the pairs ``edge_index [2, E]`` from node labels ``[N]`` (preferred) or
        node class distributions ``[N, C + 1]`` → ``[E, P + 1]``."""
        sub, obj = edge_index[0], edge_index[1]
        if obj_labels is not None:
            return self(obj_labels[sub], obj_labels[obj])
        if obj_dist is not None:
            return self.forward_dist(obj_dist[sub], obj_dist[obj])
        raise ValueError("FrequencyBias: the frequency bias needs obj_labels or obj_dist")

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.num_classes}, "
                f"{self.num_predicates})")
