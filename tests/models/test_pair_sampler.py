import torch

from pyg_sgg.models import sample_pairs, select_edges


def test_sample_pairs_quota_per_image():
    g = torch.Generator().manual_seed(0)
    # image 0: 30 pairs, 10 positive; image 1: 5 pairs, 5 positive; image 2: no pairs
    edge_graph = torch.tensor([0] * 30 + [1] * 5)
    edge_label = torch.tensor([1] * 10 + [0] * 20 + [2] * 5)
    perm = torch.randperm(35, generator=g)  # order must not matter
    edge_graph, edge_label = edge_graph[perm], edge_label[perm]
    mask = sample_pairs(edge_graph, edge_label, 3, num_pairs=8, positive_fraction=0.25,
                        generator=g)
    pos = edge_label > 0
    assert int((mask & pos & (edge_graph == 0)).sum()) == 2
    assert int((mask & ~pos & (edge_graph == 0)).sum()) == 6
    # fewer positives than the cap: keep them all (still capped at 2), no negatives exist
    assert int((mask & (edge_graph == 1)).sum()) == 2
    # another seed picks other pairs, same counts
    mask2 = sample_pairs(edge_graph, edge_label, 3, 8, 0.25, torch.Generator().manual_seed(1))
    assert int(mask2.sum()) == int(mask.sum()) and not torch.equal(mask, mask2)


def test_sample_pairs_fills_with_negatives_and_all():
    edge_graph = torch.zeros(20, dtype=torch.long)
    edge_label = torch.tensor([1] + [0] * 19)
    mask = sample_pairs(edge_graph, edge_label, 1, num_pairs=10, positive_fraction=0.5)
    assert bool(mask[0]) and int(mask.sum()) == 10
    assert sample_pairs(edge_graph, edge_label, 1, num_pairs=0).all()
    empty = torch.zeros(0, dtype=torch.long)
    assert sample_pairs(empty, empty, 2).numel() == 0


def test_select_edges_keeps_alignment(make_batch):
    batch = make_batch(sizes=(3, 4))
    batch.edge_label = torch.arange(batch.edge_index.size(1))
    before = batch.edge_index.clone(), batch.edge_attr.clone()
    mask = torch.arange(batch.edge_index.size(1)) % 3 == 0
    select_edges(batch, mask)
    assert torch.equal(batch.edge_index, before[0][:, mask])
    assert torch.equal(batch.edge_attr, before[1][mask])
    assert torch.equal(batch.edge_label, torch.nonzero(mask).view(-1))
    assert batch.gt_rel_index.size(1) == 6  # node-pair GT untouched
    # per-image slices still right
    data = batch.to_data_list()
    assert sum(d.edge_index.size(1) for d in data) == int(mask.sum())
    assert all(d.edge_attr.size(0) == d.edge_index.size(1) for d in data)
    assert all(int(d.edge_index.max()) < d.num_nodes for d in data if d.edge_index.numel())
