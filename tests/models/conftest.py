import pytest
import torch
from torch_geometric.data import Batch

from pyg_sgg.data.scene_graph import SceneGraph, all_pairs

C1, P1, D, DP = 6, 5, 16, 8  # classes / predicates incl. background, feature widths


def random_graph(n, m, g, sgdet=False, image_id=0):
    """A SceneGraph with detector-like random features on all ordered pairs."""
    xy = torch.rand(n, 2, generator=g) * 80
    wh = torch.rand(n, 2, generator=g) * 40 + 5
    boxes = torch.cat([xy, xy + wh], 1)
    labels = torch.randint(1, C1, (n,), generator=g)
    pairs = all_pairs(torch.tensor([n]))
    sel = torch.randperm(pairs.size(1), generator=g)[:m]
    rel, lab = pairs[:, sel], torch.randint(1, P1, (min(m, pairs.size(1)),), generator=g)
    kw = dict(x=torch.randn(n, D, generator=g), edge_index=pairs,
              edge_attr=torch.randn(pairs.size(1), DP, generator=g),
              det_logits=torch.randn(n, C1, generator=g))
    if sgdet:
        kw.update(gt_boxes=boxes + torch.rand(n, 4, generator=g), gt_labels=labels,
                  num_gt=torch.tensor([n]), gt_triplets=torch.cat([rel.t(), lab[:, None]], 1),
                  det_scores=torch.rand(n, generator=g))
        return SceneGraph(boxes, labels, (120, 130), image_id=image_id, **kw)
    return SceneGraph(boxes, labels, (120, 130), rel, lab, image_id=image_id, **kw)


@pytest.fixture
def make_batch():
    def make(sizes=(5, 4, 6), rels=3, sgdet=False, seed=0):
        g = torch.Generator().manual_seed(seed)
        return Batch.from_data_list([random_graph(n, rels, g, sgdet, i)
                                     for i, n in enumerate(sizes)])
    return make
