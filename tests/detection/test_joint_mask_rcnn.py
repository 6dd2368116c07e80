import pytest
import torch

from pyg_sgg.detection.backbone import SmallConvFPN
from pyg_sgg.detection.joint_mask_rcnn import JointMaskRCNN
from pyg_sgg.nn.box_geometry import pair_union_boxes
from pyg_sgg.detection.training import DetectionSamples, collate_detection


def tiny_model(num_classes=4, num_mask_classes=3, **kw):
    torch.manual_seed(0)
    backbone = SmallConvFPN((8, 8, 16, 16), out_channels=16)
    return JointMaskRCNN(backbone, num_classes, num_mask_classes, representation_size=32,
                         mask_head_layers=(8,), rpn_pre_nms_top_n_train=50,
                         rpn_post_nms_top_n_train=20, rpn_pre_nms_top_n_test=50,
                         rpn_post_nms_top_n_test=20, box_batch_size_per_image=16,
                         anchor_sizes=((8, 16), (32, 64)), **kw)


def test_backbone_repr_and_shapes():
    bb = SmallConvFPN((8, 8, 16, 16), out_channels=16, num_levels=3)
    assert repr(bb) == "SmallConvFPN([8, 8, 16, 16], out_channels=16, num_levels=3, " \
                       "depths=[1, 2, 2, 2])"
    out = bb(torch.rand(2, 3, 64, 96))
    assert list(out) == ["0", "1", "2"]
    assert [tuple(v.shape) for v in out.values()] == [(2, 16, 16, 24), (2, 16, 8, 12),
                                                       (2, 16, 4, 6)]
    with pytest.raises(ValueError, match="num_levels"):
        SmallConvFPN(num_levels=4)


def test_joint_step_losses(shapes):
    model = tiny_model().train()
    vg = shapes(4, 4, masks=False, seed=1, empty_first=True)
    coco = shapes(4, 3, masks=True, seed=2)
    vi, vt = collate_detection([DetectionSamples(vg)[i] for i in range(2)])
    ci, ct = collate_detection([DetectionSamples(coco, masks=True)[i] for i in range(2)])
    vg_losses = model(vi, vt, dataset="vg")
    assert set(vg_losses) == {"loss_objectness", "loss_rpn_box_reg", "loss_classifier",
                              "loss_box_reg"}
    coco_losses = model(ci, ct, dataset="coco")
    assert set(coco_losses) == {"coco_loss_objectness", "coco_loss_rpn_box_reg",
                                "coco_loss_classifier", "coco_loss_box_reg",
                                "coco_loss_mask"}
    assert all(torch.isfinite(v) for v in {**vg_losses, **coco_losses}.values())

    # the VG pass trains the VG predictor only; the COCO pass the COCO predictor + masks
    sum(vg_losses.values()).backward()
    assert model.roi_heads.box_predictor.cls_score.weight.grad is not None
    assert model.coco_roi_heads.box_predictor.cls_score.weight.grad is None
    assert model.coco_roi_heads.mask_predictor.mask_fcn_logits.weight.grad is None
    model.zero_grad(set_to_none=True)
    sum(coco_losses.values()).backward()
    assert model.roi_heads.box_predictor.cls_score.weight.grad is None
    assert model.coco_roi_heads.box_predictor.cls_score.weight.grad is not None
    assert model.coco_roi_heads.mask_predictor.mask_fcn_logits.weight.grad is not None
    # shared box head: one module in both heads
    assert model.roi_heads.box_head is model.coco_roi_heads.box_head


def test_box_only_variant(shapes):
    model = tiny_model(num_mask_classes=0).train()
    assert not model.mask_on and model.coco_roi_heads is None
    vg = shapes(2, 4, seed=3)
    imgs, tg = collate_detection([DetectionSamples(vg)[i] for i in range(2)])
    assert "loss_classifier" in model(imgs, tg)
    with pytest.raises(ValueError, match="num_mask_classes"):
        model(imgs, tg, dataset="coco")
    with pytest.raises(ValueError, match="targets"):
        model(imgs)


def test_eval_outputs_and_union_boxes(shapes):
    model = tiny_model().eval()
    ds = shapes(2, 4, masks=True, seed=4)
    with torch.no_grad():
        out = model([ds.load_image(0), ds.load_image(1)], dataset="coco")
    assert len(out) == 2 and out[0]["masks"].shape[1:] == (1, 64, 80)
    b = torch.tensor([[0., 0, 10, 10], [5, 5, 20, 8]])
    u = pair_union_boxes(b, torch.tensor([[0, 1], [1, 0]]))
    assert u.tolist() == [[0, 0, 20, 10], [0, 0, 20, 10]]


def test_native_size_and_resize():
    model = tiny_model(min_size=(96,), max_size=200, min_size_test=128).eval()
    il, _, orig = model.image_features([torch.rand(3, 64, 80)])
    assert il.image_sizes == [(128, 160)] and orig == [(64, 80)]
    model.train()
    il, _ = model.transform([torch.rand(3, 64, 80)])
    assert il.image_sizes == [(96, 120)]
    native = tiny_model().eval()
    il, _, _ = native.image_features([torch.rand(3, 64, 80)])
    assert il.image_sizes == [(64, 80)]
