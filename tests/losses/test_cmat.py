import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pyg_sgg.data.scene_graph import all_pairs
from pyg_sgg.evaluation.interchange import validate_predictions
from pyg_sgg.evaluation.sgg_metrics import evaluate_predictions
from pyg_sgg.losses.cmat import (cmat_advantages, counterfactual_labels,
                                 counterfactual_recall, triplet_candidates,
                                 triplet_recall)


def random_scene(seed, sgdet, num_images=3, C=4, P=2):
    """Detections near GT boxes (SGDet) or the GT boxes themselves, all ordered pairs."""
    g = torch.Generator().manual_seed(seed)
    n_gt = torch.randint(1, 5, (num_images,), generator=g)
    gt_boxes = torch.cat([torch.rand(int(n), 2, generator=g) * 40 for n in n_gt])
    gt_boxes = torch.cat([gt_boxes, gt_boxes + 10 + torch.rand(gt_boxes.shape, generator=g) * 20], 1)
    gt_labels = torch.randint(1, C + 1, (gt_boxes.size(0),), generator=g)
    gt_ptr = torch.cat([torch.zeros(1, dtype=torch.long), n_gt.cumsum(0)])
    tris, tri_img = [], []
    for b in range(num_images):
        n = int(n_gt[b])
        for _ in range(int(torch.randint(0, 6, (1,), generator=g))):
            if n < 2:
                break
            s, o = torch.randperm(n, generator=g)[:2].tolist()
            tris.append([s + int(gt_ptr[b]), o + int(gt_ptr[b]),
                         int(torch.randint(1, P + 1, (1,), generator=g))])
            tri_img.append(b)
    gt_triplets = torch.tensor(tris, dtype=torch.long).view(-1, 3)
    gt_image = torch.tensor(tri_img, dtype=torch.long)
    if sgdet:  # 0-4 detections per image, jittered copies of its GT boxes
        n_det = torch.randint(0, 5, (num_images,), generator=g)
        src = torch.cat([int(gt_ptr[b]) + torch.randint(0, int(n_gt[b]), (int(n_det[b]),),
                                                         generator=g) for b in range(num_images)])
        boxes = gt_boxes[src] + torch.randn(src.numel(), 4, generator=g) * 3
        boxes = torch.cat([torch.minimum(boxes[:, :2], boxes[:, 2:]),
                           torch.maximum(boxes[:, :2], boxes[:, 2:])], 1)  # valid xyxy
    else:
        n_det, boxes, src = n_gt, gt_boxes.clone(), torch.arange(gt_boxes.size(0))
    node_image = torch.repeat_interleave(torch.arange(num_images), n_det)
    edge_index = all_pairs(n_det)
    E = edge_index.size(1)
    rel_scores = torch.rand(E, P + 1, generator=g)
    obj_scores = torch.rand(boxes.size(0), generator=g) * 0.9 + 0.1
    labels = torch.randint(1, C + 1, (boxes.size(0),), generator=g)
    right = torch.rand(labels.numel(), generator=g) < 0.7  # mostly right: recalls happen
    labels = torch.where(right, gt_labels[src], labels)
    return dict(gt_boxes=gt_boxes, gt_labels=gt_labels, n_gt=n_gt, gt_triplets=gt_triplets,
                gt_image=gt_image, boxes=boxes, node_image=node_image, n_det=n_det,
                edge_index=edge_index, rel_scores=rel_scores, obj_scores=obj_scores,
                labels=labels, C=C, P=P, num_images=num_images)


def candidates(sc, top_k):
    rel_pred = sc["rel_scores"][:, 1:].argmax(1) + 1
    top = sc["rel_scores"].gather(1, rel_pred.view(-1, 1)).view(-1)
    score = top * sc["obj_scores"][sc["edge_index"][0]] * sc["obj_scores"][sc["edge_index"][1]]
    return triplet_candidates(sc["edge_index"], rel_pred, score, sc["node_image"], sc["boxes"],
                              sc["gt_boxes"], sc["gt_labels"], sc["gt_triplets"],
                              sc["gt_image"], sc["num_images"], top_k=top_k)


def evaluation_recall(sc, labels, top_k, mode):
    """R@K of the evaluation package for the same predictions."""
    gt_ptr = np.concatenate([[0], sc["n_gt"].cumsum(0).numpy()])
    det_ptr = np.concatenate([[0], sc["n_det"].cumsum(0).numpy()])
    tri = sc["gt_triplets"].numpy()
    img = sc["gt_image"].numpy()
    gt_rels = np.stack([tri[:, 0] - gt_ptr[img], tri[:, 1] - gt_ptr[img], tri[:, 2]], 1) \
        if tri.size else np.zeros((0, 3), np.int64)
    ei = sc["edge_index"].numpy()
    pair_img = sc["node_image"].numpy()[ei[0]] if ei.size else np.zeros(0, np.int64)
    rel_ptr = np.concatenate([[0], np.bincount(pair_img, minlength=sc["num_images"]).cumsum()])
    data = dict(num_predicates=sc["P"], gt_obj_ptr=gt_ptr, gt_boxes=sc["gt_boxes"].numpy(),
                gt_labels=sc["gt_labels"].numpy(),
                gt_rel_ptr=np.concatenate([[0], np.bincount(img, minlength=sc["num_images"])
                                          .cumsum()]), gt_rels=gt_rels,
                pred_obj_ptr=det_ptr, pred_boxes=sc["boxes"].numpy(),
                pred_labels=labels.numpy(), pred_scores=sc["obj_scores"].numpy(),
                rel_ptr=rel_ptr, rel_pair_idx=(ei - det_ptr[pair_img]).T,
                rel_scores=sc["rel_scores"].numpy())
    out = evaluate_predictions(validate_predictions(data, mode), mode, ks=(top_k,))
    return out["metrics"][f"R@{top_k}"]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), sgdet=st.booleans(), top_k=st.sampled_from([1, 3, 50]))
def test_reward_is_the_evaluation_packages_recall(seed, sgdet, top_k):
    sc = random_scene(seed, sgdet)
    recall = triplet_recall(sc["labels"], candidates(sc, top_k))
    ei = sc["edge_index"]
    pair_img = sc["node_image"][ei[0]]
    evaluated = (sc["gt_image"].bincount(minlength=3) > 0) & (pair_img.bincount(minlength=3) > 0)
    want = evaluation_recall(sc, sc["labels"], top_k, "sgdet" if sgdet else "sgcls")
    if want is None:
        assert not bool(evaluated.any())
    else:
        assert float(recall[evaluated].mean()) == pytest.approx(want, abs=1e-6)


def test_the_random_scenes_recall_something():
    recalls = [evaluation_recall(sc, sc["labels"], 50, "sgdet" if sgdet else "sgcls")
               for seed in range(20) for sgdet in (False, True)
               for sc in [random_scene(seed, sgdet)]]
    assert sum(1 for r in recalls if r) >= 15  # the test above compares non-trivial values


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), sgdet=st.booleans(), top_k=st.sampled_from([2, 50]))
def test_counterfactual_rewards_equal_relabelling_one_agent(seed, sgdet, top_k):
    sc = random_scene(seed, sgdet)
    cand = candidates(sc, top_k)
    labels = sc["labels"]
    alternatives = torch.arange(sc["C"] + 1).expand(labels.numel(), sc["C"] + 1)
    got = counterfactual_recall(labels, alternatives, sc["node_image"], cand)
    for i in range(labels.numel()):
        for v in range(sc["C"] + 1):
            changed = labels.clone()
            changed[i] = v
            want = triplet_recall(changed, cand)[sc["node_image"][i]]
            assert float(got[i, v]) == pytest.approx(float(want), abs=1e-6)


def test_advantage_by_hand():
    # one image, objects 0 (label 1) and 1 (label 2), GT triplet (0, 1, predicate 1), the pair
    # predicts it: R(a) = 1 if both agents are right
    boxes = torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]])
    cand = triplet_candidates(torch.tensor([[0], [1]]), torch.tensor([1]), torch.tensor([1.0]),
                              torch.tensor([0, 0]), boxes, boxes, torch.tensor([1, 2]),
                              torch.tensor([[0, 1, 1]]), torch.tensor([0]), 1)
    probs = torch.tensor([[0.1, 0.6, 0.3], [0.2, 0.2, 0.6]])
    labels = torch.tensor([1, 2])
    adv = cmat_advantages(probs, labels, torch.tensor([0, 0]), cand, exact=True)
    # A_i = 1 - pi_i(right) * 1
    torch.testing.assert_close(adv, torch.tensor([0.4, 0.4]))
    wrong = cmat_advantages(probs, torch.tensor([2, 2]), torch.tensor([0, 0]), cand, exact=True)
    # agent 0 wrong: R = 0, baseline 0.6 * 1 -> -0.6; agent 1 right but R = 0 and its
    # counterfactuals all give 0 -> 0
    torch.testing.assert_close(wrong, torch.tensor([-0.6, 0.0]))
    # the approximation: chosen + top-2 others + background, renormalised; with 3 labels
    # in all it covers every label once, so it equals the exact value
    approx = cmat_advantages(probs, labels, torch.tensor([0, 0]), cand, exact=False)
    torch.testing.assert_close(approx, torch.tensor([0.4, 0.4]))


def test_counterfactual_labels_approximation():
    probs = torch.tensor([[0.05, 0.5, 0.1, 0.3, 0.05]])
    alt = counterfactual_labels(probs, torch.tensor([1]))
    assert alt.tolist() == [[1, 3, 2, 0]]
    assert counterfactual_labels(probs, torch.tensor([1]), exact=True).tolist() == [[0, 1, 2, 3, 4]]


def test_no_pairs_no_triplets():
    boxes = torch.tensor([[0.0, 0, 10, 10]])
    cand = triplet_candidates(torch.zeros(2, 0, dtype=torch.long), torch.zeros(0), torch.zeros(0),
                              torch.tensor([0]), boxes, boxes, torch.tensor([1]),
                              torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, dtype=torch.long), 1)
    probs = torch.tensor([[0.2, 0.8]])
    adv = cmat_advantages(probs, torch.tensor([1]), torch.tensor([0]), cand)
    assert adv.tolist() == [0.0]
