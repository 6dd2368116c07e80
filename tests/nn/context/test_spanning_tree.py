import networkx as nx
import torch

from pyg_sgg.nn.context import binary_tree, maximum_spanning_tree


def _random_batch(sizes, seed=0):
    g = torch.Generator().manual_seed(seed)
    T = max(sizes)
    scores = torch.rand(len(sizes), T, T, generator=g, dtype=torch.float64)
    scores = (scores + scores.transpose(1, 2)) / 2
    mask = torch.arange(T)[None] < torch.tensor(sizes)[:, None]
    return scores, mask


def test_maximum_spanning_tree_matches_networkx():
    sizes = [7, 0, 1, 2, 12, 5]
    scores, mask = _random_batch(sizes)
    parent, step, root = maximum_spanning_tree(scores, mask)
    for b, n in enumerate(sizes):
        assert (parent[b, n:] == -1).all() and (step[b, n:] == -1).all()
        if n == 0:
            assert root[b] == -1
            continue
        assert parent[b, root[b]] == -1 and step[b, root[b]] == 0
        # each node joins once, after its parent
        assert sorted(step[b, :n].tolist()) == list(range(n))
        for v in range(n):
            if v != root[b]:
                assert step[b, parent[b, v]] < step[b, v]
        # root: the node with the largest row mean, diagonal included (SGB)
        assert root[b] == scores[b, :n, :n].mean(1).argmax()
        graph = nx.Graph()
        graph.add_nodes_from(range(n))
        for i in range(n):
            for j in range(i + 1, n):
                graph.add_edge(i, j, weight=float(scores[b, i, j]))
        expected = {frozenset(e) for e in nx.maximum_spanning_tree(graph).edges()}
        ours = {frozenset((v, int(parent[b, v]))) for v in range(n) if v != root[b]}
        assert ours == expected


def test_binary_tree_is_left_child_right_sibling():
    sizes = [9, 1, 0, 4]
    scores, mask = _random_batch(sizes, seed=3)
    parent, step, _ = maximum_spanning_tree(scores, mask)
    ptr = torch.tensor([0, 9, 10, 10])
    flat_parent = torch.where(parent >= 0, parent + ptr[:, None], parent)[mask]
    flat_step = step[mask]
    left, right = binary_tree(flat_parent, flat_step)
    n = flat_parent.numel()
    for v in range(n):
        # walking left child then right siblings lists v's children in joining order
        children, c = [], int(left[v])
        while c >= 0:
            children.append(c)
            c = int(right[c])
        expected = sorted((u for u in range(n) if flat_parent[u] == v),
                          key=lambda u: int(flat_step[u]))
        assert children == expected
    # roots have no siblings
    assert (right[flat_parent < 0] == -1).all()
