"""The per-image scene graph: a :class:`torch_geometric.data.Data` with SGG fields.

Conventions (see ``DESIGN.md``):

* ``boxes [N, 4]`` float32 ``xyxy`` in pixels of the image as loaded.
* ``labels [N]`` long object classes ``1..C`` (0 is background).
* ``image_size [1, 2]`` long ``(height, width)``; ``image_id [1]`` long.
* ``gt_rel_index [2, M]`` long (row 0 subject, row 1 object) and ``gt_rel_label [M]``
  long predicates ``1..P``; a pair may carry several predicates.
* ``edge_index [2, E]`` candidate pairs (ordered, no self-pairs) and ``edge_label [E]``
  their predicate target (0 = background).

Only node-index tensors have ``index`` in their name, so :class:`~torch_geometric.data.Batch`
shifts exactly those by the node count.
"""
from typing import Optional

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data


class SceneGraph(Data):
    """One image's scene graph.

    Args:
        boxes (Tensor): ``[N, 4]`` ``xyxy`` boxes in pixels.
        labels (Tensor): ``[N]`` object labels in ``1..C``.
        image_size (tuple): ``(height, width)`` of the image.
        gt_rel_index (Tensor, optional): ``[2, M]`` annotated (subject, object) pairs.
        gt_rel_label (Tensor, optional): ``[M]`` predicates in ``1..P``.
        image_id (int, optional): dataset image id.
        **kwargs: further attributes (e.g. ``image_path``, ``x``, ``edge_index``).
    """

    def __init__(self, boxes: Optional[Tensor] = None, labels: Optional[Tensor] = None,
                 image_size=None, gt_rel_index: Optional[Tensor] = None,
                 gt_rel_label: Optional[Tensor] = None, image_id: int = -1, **kwargs):
        if boxes is None:  # PyG instantiates empty objects while collating
            super().__init__(**kwargs)
            return
        boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
        n = boxes.size(0)
        labels = torch.as_tensor(labels if labels is not None else torch.zeros(n),
                                 dtype=torch.long).reshape(-1)
        if gt_rel_index is None:
            gt_rel_index = torch.zeros(2, 0, dtype=torch.long)
        gt_rel_index = torch.as_tensor(gt_rel_index, dtype=torch.long).reshape(2, -1)
        if gt_rel_label is None:
            gt_rel_label = torch.zeros(gt_rel_index.size(1), dtype=torch.long)
        h, w = image_size if image_size is not None else (0, 0)
        kwargs.setdefault("num_nodes", n)
        super().__init__(
            boxes=boxes, labels=labels,
            image_size=torch.tensor([[int(h), int(w)]], dtype=torch.long),
            image_id=torch.tensor([int(image_id)], dtype=torch.long),
            gt_rel_index=gt_rel_index,
            gt_rel_label=torch.as_tensor(gt_rel_label, dtype=torch.long).reshape(-1),
            **kwargs)

    @property
    def num_relations(self) -> int:
        return int(self.gt_rel_label.numel())

    def _relations(self):
        """``(index [2, K], label [K], score [K] or None)``: the predicted relations
        (``rel_*``, set by :class:`~pyg_sgg.Predictor`) if any, else the annotated ones."""
        if "rel_index" in self:
            return self.rel_index, self.rel_label, self.get("rel_score")
        return self.gt_rel_index, self.gt_rel_label, None

    def to_dict(self) -> dict:
        """Plain JSON-able form: ``{"image_size", "objects": [{"box", "label", "name",
        "score"}], "relations": [{"subject", "object", "predicate", "predicate_id",
        "score"}]}`` (names from ``object_classes`` / ``predicate_classes`` when set;
        scores only where known)."""
        objects_names = getattr(self, "object_classes", None)
        predicate_names = getattr(self, "predicate_classes", None)
        scores = self.get("scores")
        objects = []
        for i, (box, lab) in enumerate(zip(self.boxes.tolist(), self.labels.tolist())):
            o = {"box": [round(float(v), 2) for v in box], "label": int(lab)}
            if objects_names is not None:
                o["name"] = objects_names[int(lab)]
            if scores is not None:
                o["score"] = float(scores[i])
            objects.append(o)
        index, label, score = self._relations()
        relations = []
        for k, (s, o, p) in enumerate(zip(index[0].tolist(), index[1].tolist(),
                                          label.tolist())):
            r = {"subject": int(s), "object": int(o), "predicate_id": int(p)}
            if predicate_names is not None:
                r["predicate"] = predicate_names[int(p)]
            if score is not None:
                r["score"] = float(score[k])
            relations.append(r)
        h, w = self.image_size.view(-1).tolist()
        return {"image_size": [int(h), int(w)], "objects": objects, "relations": relations}

    def to_networkx(self):
        """A :class:`networkx.MultiDiGraph`: one node per object (``box``, ``label``,
        ``name``, ``score``), one edge per relation (``predicate``, ``predicate_id``,
        ``score``), subject to object; a pair may carry several predicates."""
        import networkx as nx

        d = self.to_dict()
        g = nx.MultiDiGraph(image_size=tuple(d["image_size"]))
        for i, o in enumerate(d["objects"]):
            g.add_node(i, **o)
        for r in d["relations"]:
            attrs = {k: v for k, v in r.items() if k not in ("subject", "object")}
            g.add_edge(r["subject"], r["object"], **attrs)
        return g

    @property
    def gt_triplets(self) -> Tensor:
        """``[M, 3]`` long rows ``(subject, object, predicate)`` with local indices."""
        return torch.cat([self.gt_rel_index.t(), self.gt_rel_label.view(-1, 1)], dim=1)


def node_counts(batch: Batch) -> Tensor:
    """``[B]`` number of objects of each graph of ``batch``."""
    return batch.ptr[1:] - batch.ptr[:-1]


def cross_pairs(counts_a: Tensor, counts_b: Tensor, ptr_a: Optional[Tensor] = None,
                ptr_b: Optional[Tensor] = None) -> Tensor:
    """Every pair ``(a, b)`` of an element of set A and one of set B of the same graph.

    Vectorised over graphs: no Python loop over images.

    Args:
        counts_a (Tensor): ``[B]`` sizes of A per graph; ``counts_b`` likewise.
        ptr_a (Tensor, optional): ``[B + 1]`` offsets of A; ``cumsum`` of ``counts_a`` if
            ``None``; ``ptr_b`` likewise.

    Returns:
        Tensor: ``[2, Σ n_a n_b]`` global indices into A and B, grouped by graph, row-major
        per graph (A-major, then B).
    """
    counts_a, counts_b = counts_a.long(), counts_b.long()
    if ptr_a is None:
        ptr_a = torch.cat([counts_a.new_zeros(1), counts_a.cumsum(0)])
    if ptr_b is None:
        ptr_b = torch.cat([counts_b.new_zeros(1), counts_b.cumsum(0)])
    sizes = counts_a * counts_b
    total = int(sizes.sum())
    if total == 0:
        return counts_a.new_zeros(2, 0)
    graph = torch.repeat_interleave(torch.arange(sizes.numel(), device=sizes.device), sizes)
    start = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)[:-1]])
    local = torch.arange(total, device=sizes.device) - start[graph]
    nb = counts_b[graph]
    return torch.stack([local // nb + ptr_a[:-1][graph], local % nb + ptr_b[:-1][graph]])


def all_pairs(counts: Tensor, ptr: Optional[Tensor] = None) -> Tensor:
    """Every ordered pair ``(i, j), i != j`` within each graph, in global node indices.

    Args:
        counts (Tensor): ``[B]`` number of nodes per graph.
        ptr (Tensor, optional): ``[B + 1]`` node offsets; ``cumsum`` of ``counts`` if ``None``.

    Returns:
        Tensor: ``[2, Σ n_b (n_b - 1)]`` pairs, grouped by graph, row-major per graph
        (subject-major, then object).
    """
    pairs = cross_pairs(counts, counts, ptr, ptr)
    return pairs[:, pairs[0] != pairs[1]]


def box_overlap_mask(boxes: Tensor, pair_index: Tensor) -> Tensor:
    """``[E]`` bool: whether the two boxes of each pair intersect (positive area), as SGB's
    ``REQUIRE_BOX_OVERLAP`` filter (``+1``-pixel convention).

    Args:
        boxes (Tensor): ``[N, 4]`` xyxy.
        pair_index (Tensor): ``[2, E]``.
    """
    a, b = boxes[pair_index[0]], boxes[pair_index[1]]
    iw = torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0]) + 1
    ih = torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1]) + 1
    return (iw > 0) & (ih > 0)


def pair_labels(pair_index: Tensor, gt_rel_index: Tensor, gt_rel_label: Tensor,
                num_nodes: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """Predicate target of each candidate pair: a GT predicate of that pair, else 0.

    When a pair carries several predicates, one is chosen uniformly at random with
    ``generator`` (SGB samples one per pair in training); with ``generator=None`` the
    first annotated one is taken.

    Args:
        pair_index (Tensor): ``[2, E]`` global candidate pairs.
        gt_rel_index (Tensor): ``[2, M]`` global annotated pairs.
        gt_rel_label (Tensor): ``[M]`` predicates.
        num_nodes (int): total nodes (for pair keys).

    Returns:
        Tensor: ``[E]`` long.
    """
    out = pair_index.new_zeros(pair_index.size(1))
    if gt_rel_label.numel() == 0 or pair_index.size(1) == 0:
        return out
    gt_key = gt_rel_index[0] * num_nodes + gt_rel_index[1]
    if generator is not None:  # random order so that "first" is a uniform pick
        perm = torch.randperm(gt_key.numel(), generator=generator).to(gt_key.device)
    else:
        perm = torch.arange(gt_key.numel(), device=gt_key.device)
    gt_key, gt_lab = gt_key[perm], gt_rel_label[perm]
    order = torch.sort(gt_key, stable=True).indices
    gt_key, gt_lab = gt_key[order], gt_lab[order]
    cand_key = pair_index[0] * num_nodes + pair_index[1]
    pos = torch.searchsorted(gt_key, cand_key)
    pos_c = pos.clamp(max=gt_key.numel() - 1)
    hit = gt_key[pos_c] == cand_key
    out[hit] = gt_lab[pos_c[hit]]
    return out


def add_candidate_pairs(batch: Batch, mode: str = "all",
                        generator: Optional[torch.Generator] = None) -> Batch:
    """Set ``batch.edge_index`` (candidate pairs) and ``batch.edge_label`` (targets).

    Args:
        batch (Batch): a batch of :class:`SceneGraph`.
        mode (str): ``"all"`` ordered pairs, or ``"overlap"`` only pairs whose boxes
            intersect (SGB's SGDet test-time rule). (default: ``"all"``)
        generator (torch.Generator, optional): for sampling one of several predicates.
    """
    pairs = all_pairs(node_counts(batch), batch.ptr)
    if mode == "overlap":
        pairs = pairs[:, box_overlap_mask(batch.boxes, pairs)]
    elif mode != "all":
        raise ValueError(f"candidate pair mode must be 'all' or 'overlap', got {mode!r}")
    batch.edge_index = pairs
    batch.edge_label = pair_labels(pairs, batch.gt_rel_index, batch.gt_rel_label,
                                   batch.num_nodes, generator)
    return batch
