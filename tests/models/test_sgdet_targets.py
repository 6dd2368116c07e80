import torch
from torch_geometric.data import Batch

from pyg_sgg.data.scene_graph import SceneGraph, all_pairs, cross_pairs
from pyg_sgg.models.sgdet_targets import overlap_mask, sgdet_targets


def test_cross_pairs():
    out = cross_pairs(torch.tensor([2, 0, 1]), torch.tensor([1, 3, 2]))
    assert out.tolist() == [[0, 1, 2, 2], [0, 0, 4, 5]]
    assert cross_pairs(torch.tensor([0]), torch.tensor([3])).size() == (2, 0)


def _image(dets, det_labels, gts, gt_labels, triplets):
    dets = torch.tensor(dets, dtype=torch.float)
    n = dets.size(0)
    return SceneGraph(dets, det_labels, (100, 100), edge_index=all_pairs(torch.tensor([n])),
                      gt_boxes=torch.tensor(gts, dtype=torch.float),
                      gt_labels=torch.tensor(gt_labels), num_gt=torch.tensor([len(gts)]),
                      gt_triplets=torch.tensor(triplets, dtype=torch.long).reshape(-1, 3))


def test_sgdet_targets_matching():
    a, b, c = [0, 0, 20, 20], [50, 50, 80, 80], [0, 60, 10, 70]
    # image 0: dets 0,1 match GT 0,1 (det 2 is a duplicate of GT 0 with a wrong label,
    # det 3 matches nothing); GT relation (0 -> 1, pred 3)
    img0 = _image([a, b, [1, 1, 20, 21], [90, 0, 99, 9]], [1, 2, 4, 1], [a, b], [1, 2],
                  [[0, 1, 3]])
    # image 1: two detections of GT 0 (label 2), one of GT 1 (label 3); GT (1 -> 0, pred 2)
    img1 = _image([a, [0, 0, 21, 20], c], [2, 2, 3], [a, c], [2, 3], [[1, 0, 2]])
    img2 = _image([a], [1], [b], [1], [])  # no match, no relation
    batch = Batch.from_data_list([img0, img1, img2])
    sgdet_targets(batch)
    assert batch.node_target.tolist() == [1, 2, 1, 0, 2, 2, 3, 0]
    key = {(int(s), int(o)): int(l) for s, o, l in zip(*batch.edge_index, batch.edge_label)}
    positives = {k: v for k, v in key.items() if v > 0}
    # global ids: image 1 starts at 4
    assert positives == {(0, 1): 3, (6, 4): 2, (6, 5): 2}


def test_sgdet_targets_empty_and_overlap():
    img = _image([[0, 0, 5, 5]], [1], [], [], [])
    img.gt_boxes = torch.zeros(0, 4)
    img.gt_labels = torch.zeros(0, dtype=torch.long)
    batch = Batch.from_data_list([img, img])
    sgdet_targets(batch)
    assert batch.node_target.tolist() == [0, 0] and batch.edge_label.numel() == 0
    img = _image([[0, 0, 10, 10], [5, 5, 20, 20], [50, 50, 60, 60]], [1, 1, 1], [], [], [])
    batch = Batch.from_data_list([img])
    mask = overlap_mask(batch)
    kept = batch.edge_index[:, mask].t().tolist()
    assert kept == [[0, 1], [1, 0]]
