"""Render the README's example: a trained PredCls model on the first SynthVG test image with
4-6 objects and >= 3 relations, given its GT boxes and labels; prints GT and predictions.

    python train.py --method ce SOLVER.MAX_ITER 300 OUTPUT_DIR RUN
    python docs/make_example_picture.py RUN/model_final.pth docs/example_scene_graph.png
"""
import os
import sys
from pathlib import Path

from pyg_sgg import Predictor
from pyg_sgg.data.vg import VGDataset
from pyg_sgg.predict import draw_scene_graph
p = Predictor.from_checkpoint(sys.argv[1], top_k=8)
root = Path(os.path.expanduser("~/.cache/pyg_sgg/synthvg-s0-n4000"))
ds = VGDataset(root, "test", num_val_images=0)
i = next(k for k in range(len(ds)) if 4 <= ds[k].boxes.size(0) <= 6 and ds[k].num_relations >= 3)
g = ds[i]
img = ds.load_image(i)
names = [ds.object_classes[int(l)] for l in g.labels]
out = p(img, boxes=g.boxes.tolist(), labels=names)
draw_scene_graph(img, out, sys.argv[2], max_relations=8)
gt = [(names[s], ds.predicate_classes[r], names[o]) for s, o, r in g.gt_triplets.tolist()]
print("image", int(ds.image_ids[i]), "GT:", gt)
print("pred:", [(names[s], p.predicate_classes[r], names[o], round(float(sc), 3)) for (s, o), r, sc in zip(out.rel_index.t().tolist(), out.rel_label.tolist(), out.rel_score.tolist())])
