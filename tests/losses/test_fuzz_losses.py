"""Every loss of pyg_sgg.losses on random graph batches, including empty batches, single
nodes, isolated nodes, duplicate pairs and self-loops, at extreme logits: finite values and
finite gradients, never an exception. ``-m slow`` runs 2,000 cases."""
import os
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_sgg.losses import (baikal_loss, cmat_advantages, discriminative_loss,
                            graphical_contrastive_losses, triplet_candidates)


@st.composite
def graph_batches(draw):
    n = draw(st.integers(0, 9))
    E = draw(st.integers(0, 20)) if n else 0
    P = draw(st.integers(1, 5))
    C = draw(st.integers(1, 4))
    scale = draw(st.sampled_from([1.0, 30.0, 1e3]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    edge_index = torch.randint(0, max(n, 1), (2, E), generator=g)  # duplicates, self-loops
    return dict(n=n, P=P, C=C, edge_index=edge_index,
                rel_logits=(torch.randn(E, P + 1, generator=g) * scale).requires_grad_(),
                edge_label=torch.randint(0, P + 1, (E,), generator=g),
                node_label=torch.randint(0, C + 1, (n,), generator=g),
                obj_logits=(torch.randn(n, C + 1, generator=g) * scale).requires_grad_(),
                x=(torch.randn(n, 3, generator=g) * scale).requires_grad_(),
                batch=torch.randint(0, 3, (n,), generator=g).sort().values)


def finite_backward(total, *leaves):
    assert torch.isfinite(total.detach())
    grads = torch.autograd.grad(total, leaves, allow_unused=True)
    assert all(gr is None or torch.isfinite(gr).all() for gr in grads)


CASES = int(os.environ.get("PYG_SGG_FUZZ_EXAMPLES") or 80)


@settings(max_examples=CASES, deadline=None)
@given(graph_batches())
def test_every_loss_is_finite_on_odd_graphs(b):
    gcl = graphical_contrastive_losses(b["rel_logits"], b["edge_index"], b["edge_label"],
                                       b["node_label"], num_nodes=b["n"])
    finite_backward(sum(gcl.values()), b["rel_logits"])
    for form in ("baikal", "baikal_cma"):
        finite_backward(baikal_loss(b["rel_logits"], b["edge_label"], form=form),
                        b["rel_logits"])
    disc = discriminative_loss(b["x"], b["node_label"] - 1, b["batch"])
    finite_backward(disc["loss"], b["x"])
    n = b["n"]
    boxes = torch.rand(n, 2) * 20
    boxes = torch.cat([boxes, boxes + 5], 1)
    probs = torch.softmax(b["obj_logits"].detach().float(), -1)
    labels = probs.argmax(-1)
    tri = torch.cat([b["edge_index"].t(), b["edge_label"].clamp(min=1).view(-1, 1)], 1)
    image = b["batch"][tri[:, 0]] if n else torch.zeros(0, dtype=torch.long)
    cand = triplet_candidates(b["edge_index"], b["rel_logits"].detach().argmax(-1),
                              torch.rand(b["edge_index"].size(1)), b["batch"], boxes, boxes,
                              b["node_label"], tri, image, 3)
    for exact in (False, True):
        adv = cmat_advantages(probs, labels, b["batch"], cand, exact=exact)
        assert adv.shape == (n,) and torch.isfinite(adv).all()
        assert bool((adv.abs() <= 1 + 1e-6).all())  # a recall difference


@pytest.mark.slow
def test_fuzz_2000_cases():
    """``pytest -m slow``: the same property over 2,000 cases."""
    env = {**os.environ, "PYG_SGG_FUZZ_EXAMPLES": "2000"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           __file__ + "::test_every_loss_is_finite_on_odd_graphs"],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
