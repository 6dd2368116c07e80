"""pyg_sgg.Predictor on a tiny untrained detector + relation model: user images of any mode,
user boxes and labels, 0 detections, the graph's dict / JSON / networkx forms."""
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from pyg_sgg import Predictor
from pyg_sgg.config import get_cfg
from pyg_sgg.detection.torchvision_backend import TorchvisionDetector
from pyg_sgg.models import SceneGraphModel, context_options
from pyg_sgg.predictor import load_rgb_image

from .detection.test_joint_mask_rcnn import tiny_model

OBJ = ["__background__", "man", "horse", "hat", "table"]
PRED = ["__background__", "on", "near", "has"]


def predictor(task, **detector_kw):
    det = TorchvisionDetector(tiny_model(**detector_kw))
    box, union = det.relation_feature_extractors()
    torch.manual_seed(0)
    model = SceneGraphModel.build(
        mode=task, context="motifs", num_classes=len(OBJ), num_predicates=len(PRED),
        feature_dim=det.feature_dim, pair_feature_dim=det.feature_dim, hidden_dim=16,
        pooling_dim=16, dropout=0.0, pred_dist=torch.randn(len(OBJ), len(OBJ), len(PRED)),
        context_options=context_options("motifs", embed_dim=8, dropout=0.0,
                                        edge_channels=det.feature_dim, num_obj_layers=1,
                                        num_edge_layers=1),
        box_extractor=box, union_extractor=union)
    cfg = get_cfg()
    cfg.merge_from_list(["SGG.TASK", task, "TEST.IMS_PER_BATCH", "2"])
    return Predictor(cfg, model, det, OBJ, PRED, top_k=4)


def picture(h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    arr = np.full((h, w, 3), 128, np.uint8)
    arr[5:30, 8:40] = rng.integers(0, 255, 3)
    return arr


def test_sgcls_keeps_the_given_boxes_in_input_pixels_for_any_image_size():
    p = predictor("sgcls")
    boxes = [[[2.0, 3.0, 30.0, 40.0], [10.5, 8.25, 60.0, 47.0], [0, 0, 5, 5]],
             [[20.0, 30.0, 150.0, 100.0], [60, 10, 190, 119]]]
    graphs = p.predict([picture(), picture(120, 200)], boxes=boxes)
    for g, b in zip(graphs, boxes):
        torch.testing.assert_close(g.boxes, torch.tensor(b, dtype=torch.float32))
        assert g.rel_index.size(1) == min(4, len(b) * (len(b) - 1))
        s = g.rel_score
        assert bool((s[:-1] >= s[1:]).all()) and bool(((s >= 0) & (s <= 1)).all())
        assert g.labels.min() >= 1
    assert graphs[1].image_size.tolist() == [[120, 200]]


def test_predcls_takes_names_or_indices_and_rejects_unknown_ones():
    p = predictor("predcls")
    g = p(picture(), boxes=[[2, 3, 30, 40], [10, 8, 60, 47]], labels=["man", 2])
    assert g.labels.tolist() == [1, 2] and g.scores.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="labels: 'dog' is not an object class"):
        p(picture(), boxes=[[2, 3, 30, 40]], labels=["dog"])
    with pytest.raises(ValueError, match="a PredCls model needs the object labels"):
        p(picture(), boxes=[[2, 3, 30, 40]])
    with pytest.raises(ValueError, match="needs the object boxes"):
        p(picture())


def test_sgdet_with_no_detection_and_the_dict_json_networkx_forms():
    p = predictor("sgdet", box_score_thresh=1.1)  # detects nothing
    g = p(picture())
    d = g.to_dict()
    assert d == {"image_size": [48, 64], "objects": [], "relations": []}
    assert g.to_networkx().number_of_nodes() == 0
    with pytest.raises(ValueError, match="this is an SGDet model"):
        p(picture(), boxes=[[0, 0, 5, 5]])
    one = predictor("sgdet", box_score_thresh=0.0, box_detections_per_img=1)(picture())
    assert one.boxes.size(0) == 1 and one.to_dict()["relations"] == []  # one detection
    found = predictor("sgdet", box_score_thresh=0.0)(picture())  # the untrained detector's boxes
    assert found.boxes.size(0) > 1 and found.rel_index.size(1) == 4
    assert bool((found.boxes[:, 2] <= 64).all() and (found.boxes[:, 3] <= 48).all())
    g = predictor("sgcls")(picture(), boxes=[[2, 3, 30, 40]])  # one object: no relation
    assert g.to_dict()["relations"] == [] and len(g.to_dict()["objects"]) == 1


def test_round_trip_through_json():
    g = predictor("sgcls")(picture(), boxes=[[2, 3, 30, 40], [10, 8, 60, 47], [0, 0, 9, 9]])
    d = g.to_dict()
    again = json.loads(json.dumps(d))
    assert again == d
    assert {"box", "label", "name", "score"} == set(d["objects"][0])
    rel = d["relations"][0]
    assert rel["predicate"] == PRED[rel["predicate_id"]]
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == 3 and nxg.number_of_edges() == len(d["relations"])
    s, o, attrs = next(iter(nxg.edges(data=True)))
    assert attrs["predicate"] in PRED[1:] and nxg.nodes[s]["name"] in OBJ[1:]


def test_images_of_every_mode_and_exif_rotation(tmp_path):
    rgb = picture()
    grey = Image.fromarray(rgb[:, :, 0], mode="L")
    rgba = Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]), "RGBA")
    for im in (grey, rgba, rgb, rgb[:, :, 0], torch.rand(3, 48, 64)):
        t = load_rgb_image(im)
        assert t.shape == (3, 48, 64) and t.dtype == torch.float32 and float(t.max()) <= 1.0
    # a 64 x 48 JPEG whose EXIF says "rotate 90": loaded as displayed, 48 wide x 64 high
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", exif=exif.tobytes())
    (tmp_path / "rotated.jpg").write_bytes(buf.getvalue())
    assert load_rgb_image(tmp_path / "rotated.jpg").shape == (3, 64, 48)
    (tmp_path / "broken.jpg").write_bytes(buf.getvalue()[:100])
    with pytest.raises(ValueError, match="broken.jpg: field 'image': unreadable"):
        load_rgb_image(tmp_path / "broken.jpg")


def test_predict_cli_writes_json_and_png(tmp_path, monkeypatch, capsys):
    from pyg_sgg import predict
    from pyg_sgg import predictor as predictor_module

    tiny = predictor("sgcls")
    monkeypatch.setattr(predictor_module.Predictor, "from_checkpoint",
                        classmethod(lambda cls, path, opts=(), top_k=20: tiny))
    Image.fromarray(picture()).save(tmp_path / "a.png")
    Image.fromarray(picture(70, 90)).save(tmp_path / "b.png")
    Image.fromarray(picture(30, 40)).save(tmp_path / "c.png")
    (tmp_path / "boxes.json").write_text(json.dumps({
        "a.png": {"boxes": [[2, 3, 30, 40], [10, 8, 60, 47]]},
        "b.png": {"boxes": [[1, 1, 20, 20]]}, "c.png": {"boxes": [[0, 0, 9, 9], [5, 5, 30, 25],
                                                                  [2, 2, 3, 3]]}}))
    assert predict.main(["--checkpoint", "x.pth", *(str(tmp_path / f) for f in
                                                   ("a.png", "b.png", "c.png")),
                         "--boxes", str(tmp_path / "boxes.json"), "--out",
                         str(tmp_path / "out"), "--html"]) == 0  # batches of 2
    assert len(json.loads((tmp_path / "out" / "c.json").read_text())["objects"]) == 3
    assert (tmp_path / "out" / "b.html").is_file()
    d = json.loads((tmp_path / "out" / "a.json").read_text())
    assert len(d["objects"]) == 2 and len(d["relations"]) == 2
    assert Image.open(tmp_path / "out" / "a.png").size[0] > 0
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SystemExit):
        predict.main(["--checkpoint", "x.pth", str(tmp_path / "a.png"), "--boxes",
                      str(tmp_path / "bad.json")])
    assert "bad.json: not a readable boxes JSON" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # no boxes for an SGCls model: one line
        predict.main(["--checkpoint", "x.pth", str(tmp_path / "a.png"), "--out",
                      str(tmp_path / "out2")])
    assert "error: boxes: an SGCls model needs the object boxes" in capsys.readouterr().err


def test_html_viewer_is_self_contained_and_complete():
    from html.parser import HTMLParser

    from pyg_sgg.viewer import scene_graph_html

    g = predictor("sgcls")(picture(), boxes=[[2, 3, 30, 40], [10, 8, 60, 47], [0, 0, 9, 9]])
    page = scene_graph_html(load_rgb_image(picture()), g, title="a </script> test")

    class Collect(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.data_json, self._in = [], None, False

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            self.tags.append((tag, a))
            self._in = a.get("id") == "sg-data"

        def handle_data(self, data):
            if self._in:
                self.data_json, self._in = data, False

    c = Collect()
    c.feed(page)
    boxes = [a for t, a in c.tags if t == "rect" and a.get("class") == "box"]
    nodes = [a for t, a in c.tags if t == "circle"]
    edges = [a for t, a in c.tags if t == "g" and "data-relation" in a]
    d = g.to_dict()
    assert len(boxes) == len(nodes) == 3 and len(edges) == len(d["relations"])
    assert {e["data-subject"] for e in edges} <= {"0", "1", "2"}
    assert all(float(e["data-score"]) == pytest.approx(r["score"], rel=1e-6)
               for e, r in zip(edges, d["relations"]))
    assert json.loads(c.data_json.replace("<\\/", "</")) == d
    links = [v for _, a in c.tags for k, v in a.items() if k in ("src", "href")]
    assert links and all(v.startswith(("data:", "url(#", "#")) for v in links)  # no network
    assert "a &lt;/script&gt; test" in page
    assert any(t == "input" and a.get("type") == "range" for t, a in c.tags)


def test_a_segmentation_grounded_model_gives_each_object_its_mask():
    """SGCls with segmentation grounding on the tiny joint detector (3 COCO mask classes):
    every predicted object carries its ``[H, W]`` mask at the input image's size."""
    from pyg_sgg.nn import SegmentationGrounding
    det = TorchvisionDetector(tiny_model())
    torch.manual_seed(0)
    grounding = SegmentationGrounding(torch.softmax(torch.randn(len(OBJ) - 1, 3), -1),
                                      det.map_channels, det.map_scales, 16, len(OBJ),
                                      pool_to=7)
    model = SceneGraphModel.build(
        mode="sgcls", context="motifs", num_classes=len(OBJ), num_predicates=len(PRED),
        feature_dim=16, pair_feature_dim=16, hidden_dim=16, pooling_dim=16, dropout=0.0,
        pred_dist=torch.randn(len(OBJ), len(OBJ), len(PRED)),
        context_options=context_options("motifs", embed_dim=8, dropout=0.0, edge_channels=16,
                                        num_obj_layers=1, num_edge_layers=1),
        grounding=grounding)
    cfg = get_cfg()
    cfg.merge_from_list(["SGG.TASK", "sgcls", "MODEL.SGG.FEATURES", "trainable",
                         "MODEL.SGG.SEG.ENABLED", "True"])
    p = Predictor(cfg, model, det, OBJ, PRED, top_k=4)
    boxes = [[[2.0, 3.0, 30.0, 40.0], [10.5, 8.25, 60.0, 47.0]], [[20.0, 30.0, 150.0, 100.0]]]
    graphs = p.predict([picture(), picture(120, 200)], boxes=boxes)
    assert graphs[0].masks.shape == (2, 48, 64) and graphs[1].masks.shape == (1, 120, 200)
    assert graphs[0].masks.dtype == torch.bool
    assert not graphs[1].masks[0, :, 160:].any()  # nothing right of its box (x2 = 150)
