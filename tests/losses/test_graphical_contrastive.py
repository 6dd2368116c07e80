import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_sgg.losses import graphical_contrastive_losses, relatedness


def loop_reference(rel_logits, edge_index, edge_label, node_label, margin=0.2, fallback=True):
    """RelDN's per-node loops, element by element in Python (each group as a list)."""
    p = torch.softmax(rel_logits.double(), -1)
    s = (1 - p[:, 0]).tolist()
    top = (p[:, 1:].argmax(-1) + 1).tolist()
    E = len(s)
    out = {}
    for side, name in ((0, "subject"), (1, "object")):
        groups = {"agnostic": [], "entity": [], "predicate": []}
        for node in sorted(set(edge_index[side].tolist())):
            members = [e for e in range(E) if int(edge_index[side, e]) == node]
            pos = [e for e in members if int(edge_label[e]) > 0]
            neg = [e for e in members if int(edge_label[e]) == 0]
            if not pos or not neg:
                continue
            agn_neg = max(s[e] for e in neg)
            groups["agnostic"].append((min(s[e] for e in pos), agn_neg))
            other = lambda e: int(node_label[int(edge_index[1 - side, e])])
            for kind, pos_key, neg_key in (("entity", other, other),
                                           ("predicate", lambda e: int(edge_label[e]),
                                            lambda e: top[e])):
                for k in sorted(set(pos_key(e) for e in pos)):
                    lo = min(s[e] for e in pos if pos_key(e) == k)
                    same = [s[e] for e in neg if neg_key(e) == k]
                    if same:
                        groups[kind].append((lo, max(same)))
                    elif fallback:
                        groups[kind].append((lo, agn_neg))
        for kind, pairs in groups.items():
            terms = [max(0.0, margin - (a - b)) for a, b in pairs] + [0.0]  # + dummy (1, 0)
            out[f"{kind}_{name}"] = sum(terms) / len(terms)
    return out


@st.composite
def scored_pairs(draw):
    n = draw(st.integers(0, 7))
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    P = draw(st.integers(1, 4))
    C = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    E = len(chosen)
    edge_index = torch.tensor(chosen, dtype=torch.long).view(-1, 2).t()
    rel_logits = torch.randn(E, P + 1, generator=g) * 3
    edge_label = torch.randint(0, P + 1, (E,), generator=g)
    edge_label[torch.rand(E, generator=g) < 0.4] = 0
    node_label = torch.randint(1, C + 1, (n,), generator=g)
    return rel_logits, edge_index, edge_label, node_label, draw(st.booleans())


@settings(max_examples=150, deadline=None)
@given(scored_pairs())
def test_matches_the_per_node_loops(case):
    rel_logits, edge_index, edge_label, node_label, fallback = case
    got = graphical_contrastive_losses(rel_logits, edge_index, edge_label, node_label,
                                       fallback=fallback)
    want = loop_reference(rel_logits, edge_index, edge_label, node_label, fallback=fallback)
    assert set(got) == set(want)
    for k in want:
        assert float(got[k]) == pytest.approx(want[k], abs=1e-6), k


def logits_for(scores):
    """Logits whose relatedness 1 - p_bg equals ``scores`` (two columns)."""
    s = torch.tensor(scores, dtype=torch.float64)
    return torch.stack([torch.log1p(-s), torch.log(s)], dim=1).float()


def test_one_positive_one_negative_by_hand():
    # node 0 as subject: positive (0->1) s = 0.6, negative (0->2) s = 0.5
    logits = logits_for([0.6, 0.5])
    edge_index = torch.tensor([[0, 0], [1, 2]])
    out = graphical_contrastive_losses(logits, edge_index, torch.tensor([1, 0]),
                                       torch.tensor([1, 1, 2]))
    # one group + the dummy: max(0, 0.2 - 0.1) / 2
    assert float(out["agnostic_subject"]) == pytest.approx(0.05, abs=1e-6)
    # no object of class 1 among the negatives: the fallback uses the agnostic negative
    assert float(out["entity_subject"]) == pytest.approx(0.05, abs=1e-6)
    # the negative's top foreground prediction is predicate 1 (the only one)
    assert float(out["predicate_subject"]) == pytest.approx(0.05, abs=1e-6)
    # each node is an object of one pair only: no object-side group
    assert float(out["agnostic_object"]) == 0.0
    no_fallback = graphical_contrastive_losses(logits, edge_index, torch.tensor([1, 0]),
                                               torch.tensor([1, 1, 2]), fallback=False)
    assert float(no_fallback["entity_subject"]) == 0.0
    # a margin already met gives 0
    met = graphical_contrastive_losses(logits_for([0.9, 0.1]), edge_index,
                                       torch.tensor([1, 0]), torch.tensor([1, 1, 2]))
    assert float(met["agnostic_subject"]) == 0.0


@pytest.mark.parametrize("E", [0, 3])
def test_no_groups_gives_a_connected_zero(E):
    logits = torch.randn(E, 4, requires_grad=True)
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]])[:, :E]
    out = graphical_contrastive_losses(logits, edge_index, torch.ones(E, dtype=torch.long),
                                       torch.tensor([1, 1, 2]))  # no negatives at all
    total = sum(out.values())
    assert float(total.detach()) == 0.0
    total.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_gradients_finite_at_extreme_probabilities():
    logits = torch.tensor([[-80.0, 80.0], [80.0, -80.0], [0.0, 0.0], [80.0, -80.0]],
                          requires_grad=True)
    edge_index = torch.tensor([[0, 0, 1, 1], [1, 2, 0, 2]])
    out = graphical_contrastive_losses(logits, edge_index, torch.tensor([1, 0, 1, 0]),
                                       torch.tensor([1, 2, 3]))
    sum(out.values()).backward()
    assert torch.isfinite(logits.grad).all()
    assert torch.isfinite(relatedness(logits)).all()
