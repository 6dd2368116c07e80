import torch

from pyg_sgg.detection.evaluation import evaluate_detector


class OracleModel(torch.nn.Module):
    """Returns the ground truth of ``dataset`` (optionally dropping / relabelling)."""

    def __init__(self, dataset, num_classes, num_mask_classes, wrong_label=False):
        super().__init__()
        self.ds, self.wrong = dataset, wrong_label
        self.num_classes, self.num_mask_classes = num_classes, num_mask_classes
        self.calls = 0

    def forward(self, images, dataset="vg"):
        out = []
        for _ in images:
            g = self.ds[self.calls]
            self.calls += 1
            labels = g.labels % self.num_classes + 1 if self.wrong else g.labels
            d = {"boxes": g.boxes, "labels": labels, "scores": torch.ones(len(labels))}
            if dataset == "coco":
                d["masks"] = g.masks[:, None].float()
            out.append(d)
        return out


def test_oracle_gets_full_ap(shapes):
    vg = shapes(5, 4, seed=20, empty_first=True)
    res = evaluate_detector(OracleModel(vg, 4, 0), vg, batch_size=2)
    assert abs(res["AP50"] - 100.0) < 1e-6 and abs(res["AP"] - 100.0) < 1e-6
    coco = shapes(4, 3, masks=True, seed=21)
    res = evaluate_detector(OracleModel(coco, 0, 3), coco, dataset_type="coco")
    assert abs(res["segm/AP50"] - 100.0) < 1e-6 and abs(res["bbox/AP50"] - 100.0) < 1e-6


def test_wrong_labels_get_zero_ap(shapes):
    vg = shapes(4, 4, seed=22)
    res = evaluate_detector(OracleModel(vg, 4, 0, wrong_label=True), vg)
    assert res["AP50"] == 0.0
