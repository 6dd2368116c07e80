import torch

from pyg_sgg.detection.training import (DetectionSamples, infinite_loader, last_checkpoint,
                                        train_detector)

from .test_joint_mask_rcnn import tiny_model


def test_train_checkpoint_and_resume(shapes, tmp_path):
    vg = shapes(4, 4, seed=10, empty_first=True)
    coco = shapes(4, 3, masks=True, seed=11)
    model = tiny_model()
    res = train_detector(model, vg, coco, output_dir=tmp_path, max_iter=2, ims_per_batch=2,
                         checkpoint_period=1, warmup_iters=1, progress=False)
    assert res["iteration"] == 2 and res["checkpoint"].is_file()
    assert set(res["losses"]) >= {"loss_classifier", "coco_loss_mask"}
    assert last_checkpoint(tmp_path).name == "model_final.pth"
    assert (tmp_path / "model_0000001.pth").is_file()
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temporary files
    state = torch.load(res["checkpoint"], weights_only=False)
    assert state["iteration"] == 2

    resumed = tiny_model()
    res2 = train_detector(resumed, vg, coco, output_dir=tmp_path, max_iter=3,
                          ims_per_batch=2, warmup_iters=1, resume=True, progress=False)
    assert res2["iteration"] == 3
    assert torch.load(res2["checkpoint"], weights_only=False)["iteration"] == 3
    # the resumed model started from the checkpoint, not from its own init
    fresh = tiny_model()
    w = "roi_heads.box_predictor.cls_score.weight"
    assert not torch.equal(resumed.state_dict()[w], fresh.state_dict()[w])


def test_box_only_training(shapes, tmp_path):
    model = tiny_model(num_mask_classes=0)
    res = train_detector(model, shapes(2, 4, seed=12), None, output_dir=tmp_path,
                         max_iter=1, ims_per_batch=2, progress=False, optimizer="adamw",
                         base_lr=1e-3)
    assert not any(k.startswith("coco_") for k in res["losses"])


def test_loader_resumes_same_sequence(shapes):
    samples = DetectionSamples(shapes(5, 4, seed=13))
    full = infinite_loader(samples, 2, seed=0)
    seq = [torch.stack([t["boxes"].sum() for t in next(full)[1]]) for _ in range(5)]
    late = infinite_loader(samples, 2, seed=0, start_iter=3)
    assert torch.equal(torch.stack([t["boxes"].sum() for t in next(late)[1]]), seq[3])


def test_hflip_flips_boxes_and_masks(shapes):
    ds = shapes(1, 3, masks=True, seed=14)
    torch.manual_seed(0)
    img, t = DetectionSamples(ds, masks=True, hflip=1.0)[0]
    img0, t0 = DetectionSamples(ds, masks=True)[0]
    w = img.shape[-1]
    assert torch.equal(img, img0.flip(-1)) and torch.equal(t["masks"], t0["masks"].flip(-1))
    assert torch.allclose(t["boxes"][:, 0], w - t0["boxes"][:, 2])
