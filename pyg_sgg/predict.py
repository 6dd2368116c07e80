"""``python -m pyg_sgg.predict``: scene graphs of your images with a trained pyg_sgg model.

    python -m pyg_sgg.predict --checkpoint RUN/model_final.pth photo1.jpg photo2.png --out OUT
    python -m pyg_sgg.predict --checkpoint RUN/model_final.pth a.jpg --boxes boxes.json

For each image: ``OUT/<name>.json`` (:meth:`~pyg_sgg.data.scene_graph.SceneGraph.to_dict`),
``OUT/<name>.png`` (the image with its boxes, the graph beside it) and, with ``--html``,
``OUT/<name>.html`` (:mod:`pyg_sgg.viewer`: self-contained, hover and a score slider). ``--boxes``: a JSON
object ``{"<image file name>": {"boxes": [[x1, y1, x2, y2], ...], "labels": [...]}}`` for an
SGCls (boxes) or PredCls (boxes and labels) model.
"""
import argparse
import json
import sys
from pathlib import Path

__all__ = ["main", "draw_scene_graph"]


def draw_scene_graph(image, graph, path, max_relations: int = 20) -> None:
    """PNG of ``image`` (``[3, H, W]``) with ``graph``'s boxes and names, and the graph
    beside it (a networkx layout, each edge's predicate on it, node colours = box colours)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    d = graph.to_dict()
    colours = plt.get_cmap("tab10")
    fig, (ax_im, ax_g) = plt.subplots(1, 2, figsize=(11, 5))
    ax_im.imshow(image.permute(1, 2, 0).numpy())
    for i, o in enumerate(d["objects"]):
        x1, y1, x2, y2 = o["box"]
        ax_im.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=2,
                                      color=colours(i % 10)))
        ax_im.text(x1, y1, f"{i}:{o.get('name', o['label'])}", color="white", fontsize=8,
                   bbox=dict(facecolor=colours(i % 10), alpha=0.8, pad=1, lw=0))
    ax_im.set_axis_off()
    g = nx.DiGraph()
    for i, o in enumerate(d["objects"]):
        g.add_node(i, label=f"{i}:{o.get('name', o['label'])}")
    labels = {}
    for r in d["relations"][:max_relations]:
        g.add_edge(r["subject"], r["object"])
        labels[(r["subject"], r["object"])] = r.get("predicate", r["predicate_id"])
    pos = nx.spring_layout(g, seed=0) if g.number_of_nodes() else {}
    curve = "arc3,rad=0.15"  # both directions of a pair stay visible
    nx.draw_networkx_nodes(g, pos, ax=ax_g, node_color=[colours(i % 10) for i in g.nodes],
                           node_size=600)
    nx.draw_networkx_labels(g, pos, ax=ax_g, labels=nx.get_node_attributes(g, "label"),
                            font_size=8)
    nx.draw_networkx_edges(g, pos, ax=ax_g, arrows=True, node_size=600,
                           connectionstyle=curve)
    nx.draw_networkx_edge_labels(g, pos, edge_labels=labels, ax=ax_g, font_size=7,
                                 connectionstyle=curve)
    ax_g.set_axis_off()
    ax_g.set_title(f"{len(d['objects'])} objects, top {len(labels)} relations", fontsize=9)
    fig.tight_layout()
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="a pyg_sgg run's .pth (its config.yaml "
                                                       "beside it)")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--boxes", help="JSON of boxes (and labels) per image file name")
    p.add_argument("--top-k", type=int, default=20, help="relations kept per image")
    p.add_argument("--out", default="scene_graphs", help="output folder")
    p.add_argument("--no-png", action="store_true", help="no PNG picture")
    p.add_argument("--html", action="store_true",
                   help="also a self-contained HTML viewer per image (hover, score slider)")
    p.add_argument("--opts", nargs="+", default=[], metavar="KEY VALUE",
                   help="config overrides of the run's config.yaml")
    args = p.parse_args(argv)

    from .config import ConfigError
    from .engine.defaults import fail, one_line, setup_logging
    from .errors import CheckpointError, DatasetFormatError
    setup_logging()
    if args.top_k < 1:
        fail(f"argument --top-k: must be >= 1, got {args.top_k}")
    given = {}
    if args.boxes:
        try:
            given = json.loads(Path(args.boxes).read_text())
        except (OSError, json.JSONDecodeError) as e:
            fail(f"{args.boxes}: not a readable boxes JSON ({e})")
    out = Path(args.out)
    try:
        from .predictor import Predictor, load_rgb_image
        predictor = Predictor.from_checkpoint(args.checkpoint, args.opts, top_k=args.top_k)
        out.mkdir(parents=True, exist_ok=True)
        from tqdm import tqdm
        step = max(1, int(predictor.cfg.TEST.IMS_PER_BATCH))
        bar = tqdm(total=len(args.images), desc="images", disable=None)
        for start in range(0, len(args.images), step):  # batched as the model's test images
            chunk = args.images[start:start + step]
            entries = [given.get(Path(name).name, {}) for name in chunk]
            images = [load_rgb_image(name) for name in chunk]
            boxes = [e.get("boxes") for e in entries]
            labels = [e.get("labels") for e in entries]
            graphs = predictor.predict(images, None if all(b is None for b in boxes) else boxes,
                                       None if all(lab is None for lab in labels) else labels)
            for name, image, graph in zip(chunk, images, graphs):
                stem = Path(name).stem
                tmp = out / f".{stem}.json.tmp"
                tmp.write_text(json.dumps(graph.to_dict(), indent=1))
                tmp.replace(out / f"{stem}.json")
                if not args.no_png:
                    draw_scene_graph(image, graph, out / f"{stem}.png")
                if args.html:
                    from .viewer import scene_graph_html
                    tmp = out / f".{stem}.html.tmp"
                    tmp.write_text(scene_graph_html(image, graph, title=Path(name).name))
                    tmp.replace(out / f"{stem}.html")
            bar.update(len(chunk))
        bar.close()
    except (FileNotFoundError, ValueError, ConfigError, DatasetFormatError,
            CheckpointError, KeyError) as e:
        fail(one_line(e) if not isinstance(e, KeyError) else str(e.args[0]))
    print(f"{len(args.images)} scene graphs written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
