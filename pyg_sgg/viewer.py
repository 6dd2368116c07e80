"""A self-contained HTML page of one scene graph (no network resources): the image with its
boxes, the graph beside it (SVG, positions from a networkx layout), hovering an object or a
relation highlights the boxes involved, a slider hides relations below a score."""
import base64
import html
import io
import json
from typing import Optional

from torch import Tensor

__all__ = ["scene_graph_html"]

_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf"]

_SCRIPT = """
(function () {
  const svg = document.getElementById("sg-image"), graph = document.getElementById("sg-graph");
  function mark(ids, on) {
    ids.forEach(function (i) {
      document.querySelectorAll('[data-object="' + i + '"]').forEach(function (el) {
        el.classList.toggle("hl", on);
      });
    });
  }
  document.querySelectorAll("[data-object]").forEach(function (el) {
    el.addEventListener("mouseenter", function () { mark([el.dataset.object], true); });
    el.addEventListener("mouseleave", function () { mark([el.dataset.object], false); });
  });
  document.querySelectorAll("[data-relation]").forEach(function (el) {
    const ids = [el.dataset.subject, el.dataset.object_];
    el.addEventListener("mouseenter", function () { el.classList.add("hl"); mark(ids, true); });
    el.addEventListener("mouseleave", function () { el.classList.remove("hl"); mark(ids, false); });
  });
  const slider = document.getElementById("sg-threshold"), shown = document.getElementById("sg-shown");
  function filter() {
    const t = parseFloat(slider.value); let n = 0;
    document.querySelectorAll("[data-relation]").forEach(function (el) {
      const keep = parseFloat(el.dataset.score) >= t;
      el.style.display = keep ? "" : "none"; n += keep ? 1 : 0;
    });
    shown.textContent = n + " relations with score >= " + t.toExponential(1);
  }
  slider.addEventListener("input", filter); filter();
})();
"""

_STYLE = """
body { font-family: sans-serif; margin: 12px; }
.panes { display: flex; gap: 16px; align-items: flex-start; }
svg { border: 1px solid #ccc; }
rect.box { fill: none; stroke-width: 2; }
rect.box.hl { stroke-width: 5; }
circle.node.hl { stroke: black; stroke-width: 3; }
g.edge line { stroke: #555; stroke-width: 1.5; }
g.edge.hl line { stroke: #d62728; stroke-width: 3.5; }
g.edge text, text.name { font-size: 11px; }
"""


def _png_base64(image: Tensor) -> str:
    from PIL import Image

    arr = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def scene_graph_html(image: Tensor, graph, title: Optional[str] = None,
                     graph_size: int = 420) -> str:
    """The page (a string) for ``image`` (``[3, H, W]`` in ``[0, 1]``) and ``graph`` (a
    :class:`~pyg_sgg.data.scene_graph.SceneGraph` with ``to_dict``)."""
    import networkx as nx

    d = graph.to_dict()
    h, w = int(image.shape[1]), int(image.shape[2])
    esc = html.escape
    objs, rels = d["objects"], d["relations"]
    boxes = []
    for i, o in enumerate(objs):
        x1, y1, x2, y2 = o["box"]
        colour = _PALETTE[i % len(_PALETTE)]
        name = esc(str(o.get("name", o["label"])))
        boxes.append(f'<g data-object="{i}"><rect class="box" data-object="{i}" x="{x1}" '
                     f'y="{y1}" width="{x2 - x1}" height="{y2 - y1}" stroke="{colour}"/>'
                     f'<text class="name" x="{x1 + 2}" y="{y1 + 12}" fill="{colour}">{i}:'
                     f'{name}</text></g>')
    g = nx.DiGraph()
    g.add_nodes_from(range(len(objs)))
    g.add_edges_from((r["subject"], r["object"]) for r in rels)
    pos = nx.spring_layout(g, seed=0) if len(objs) else {}
    margin, span = 40, graph_size - 80

    def xy(i):
        px, py = pos[i]
        return margin + (px + 1) / 2 * span, margin + (py + 1) / 2 * span

    edges = []
    for k, r in enumerate(rels):
        (x1, y1), (x2, y2) = xy(r["subject"]), xy(r["object"])
        label = esc(str(r.get("predicate", r["predicate_id"])))
        score = r.get("score", 1.0)
        edges.append(f'<g class="edge" data-relation="{k}" data-subject="{r["subject"]}" '
                     f'data-object_="{r["object"]}" data-score="{score}">'
                     f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                     f'marker-end="url(#arrow)"/><text x="{(x1 + x2) / 2:.1f}" '
                     f'y="{(y1 + y2) / 2:.1f}">{label}</text>'
                     f'<title>{r["subject"]} {label} {r["object"]} ({score:.3g})</title></g>')
    nodes = []
    for i, o in enumerate(objs):
        x, y = xy(i)
        name = esc(str(o.get("name", o["label"])))
        nodes.append(f'<g data-object="{i}"><circle class="node" data-object="{i}" '
                     f'cx="{x:.1f}" cy="{y:.1f}" r="14" fill="{_PALETTE[i % len(_PALETTE)]}"/>'
                     f'<text class="name" x="{x + 16:.1f}" y="{y + 4:.1f}">{i}:{name}</text>'
                     f'</g>')
    scores = [r.get("score", 1.0) for r in rels]
    lo = min(scores) if scores else 0.0
    hi = max(scores) if scores else 1.0
    step = (hi - lo) / 100 if hi > lo else 1.0
    title = esc(title or f"{len(objs)} objects, {len(rels)} relations")
    data_json = json.dumps(d).replace("</", "<\\/")  # cannot close the script element
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title><style>{_STYLE}</style></head>
<body><h3>{title}</h3>
<p><label>score threshold <input id="sg-threshold" type="range" min="{lo}" max="{hi}"
 step="{step}" value="{lo}"></label> <span id="sg-shown"></span></p>
<div class="panes">
<svg id="sg-image" width="{w}" height="{h}" viewBox="0 0 {w} {h}">
<image width="{w}" height="{h}" href="data:image/png;base64,{_png_base64(image)}"/>
{''.join(boxes)}</svg>
<svg id="sg-graph" width="{graph_size}" height="{graph_size}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="22" refY="5" markerWidth="6"
 markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>
{''.join(edges)}{''.join(nodes)}</svg>
</div>
<script type="application/json" id="sg-data">{data_json}</script>
<script>{_SCRIPT}</script>
</body></html>
"""
