import torch
from torch_geometric.data import Batch

from pyg_sgg.data.scene_graph import SceneGraph, add_candidate_pairs, all_pairs


def _graphs():
    g = torch.Generator().manual_seed(0)
    out = []
    for n, rels in ((0, []), (1, []), (5, [[0, 1, 2], [4, 3, 1], [2, 0, 5], [0, 1, 3]])):
        xy = torch.rand(n, 2, generator=g) * 50
        boxes = torch.cat([xy, xy + 10 + torch.rand(n, 2, generator=g) * 40], 1)
        rel = torch.tensor(rels, dtype=torch.long).reshape(-1, 3)
        pairs = all_pairs(torch.tensor([n]))
        out.append(SceneGraph(boxes=boxes, labels=torch.arange(1, n + 1),
                              image_size=(100 + n, 120), gt_rel_index=rel[:, :2].t(),
                              gt_rel_label=rel[:, 2], image_id=10 + n,
                              edge_index=pairs, edge_label=torch.arange(pairs.size(1)),
                              image_path=f"img{n}.jpg"))
    return out


def test_batch_round_trip_shifts_only_index_tensors():
    graphs = _graphs()
    batch = Batch.from_data_list(graphs)
    assert batch.num_graphs == 3 and batch.num_nodes == 6
    assert batch.ptr.tolist() == [0, 0, 1, 6]
    assert batch.batch.tolist() == [1, 2, 2, 2, 2, 2]
    # indices shifted by the node offset (1 for the 5-object graph)
    assert batch.gt_rel_index.tolist() == [[1, 5, 3, 1], [2, 4, 1, 2]]
    assert torch.equal(batch.edge_index, graphs[2].edge_index + 1)
    # labels and geometry are not shifted
    assert batch.gt_rel_label.tolist() == [2, 1, 5, 3]
    assert batch.labels.tolist() == [1, 1, 2, 3, 4, 5]
    assert torch.equal(batch.edge_label, graphs[2].edge_label)
    assert batch.image_size.tolist() == [[100, 120], [101, 120], [105, 120]]
    assert batch.image_id.tolist() == [10, 11, 15]
    assert batch.image_path == ["img0.jpg", "img1.jpg", "img5.jpg"]
    for i, g in enumerate(graphs):
        back = batch.get_example(i)
        for key in ("boxes", "labels", "gt_rel_index", "gt_rel_label", "edge_index",
                    "edge_label", "image_size", "image_id"):
            assert torch.equal(back[key], g[key]), key
        assert back.num_nodes == g.num_nodes and back.image_path == g.image_path


def test_candidate_pairs_on_batch():
    batch = Batch.from_data_list(_graphs())
    add_candidate_pairs(batch)
    assert batch.edge_index.size(1) == 20  # 0 + 0 + 5 * 4
    assert int(batch.edge_index.min()) == 1
    lab = dict(zip(map(tuple, batch.edge_index.t().tolist()), batch.edge_label.tolist()))
    assert lab[(3, 1)] == 5 and lab[(5, 4)] == 1 and lab[(1, 2)] in (2, 3)
    assert sum(v > 0 for v in lab.values()) == 3
