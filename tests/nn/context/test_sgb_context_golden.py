"""pyg_sgg's Motifs, VCTree and Transformer contexts against numbers computed by SGB's
unmodified ``LSTMContext`` / ``DecoderRNN``, ``VCTreeLSTMContext`` and ``TransformerContext``
(tests/golden/make_sgb_context_golden.py; only numbers are stored): node states, decoded
labels and object logits in PredCls, SGCls and SGDet, training and test, VCTree's tree-score
logits, the TDE counterfactual and its moving average."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pyg_sgg.nn.box_geometry import box_geometry
from pyg_sgg.nn.context.motifs import MotifsContext
from pyg_sgg.nn.context.transformer import TransformerContext
from pyg_sgg.nn.context.vctree import VCTreeContext

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
TREE = {"treeLSTM_foreward.treeLSTM.px": "up_px", "treeLSTM_foreward.treeLSTM.ioffux": "up_x",
        "treeLSTM_foreward.treeLSTM.ioffuh_left": "up_h_left",
        "treeLSTM_foreward.treeLSTM.ioffuh_right": "up_h_right",
        "treeLSTM_backward.treeLSTM.px": "down_px", "treeLSTM_backward.treeLSTM.iofux": "down_x",
        "treeLSTM_backward.treeLSTM.iofuh": "down_h"}


def motifs_sgb_to_pyg(w, embed, feat):
    """SGB's Motifs state dict under pyg_sgg's names. SGB's edge LSTM reads ``[E_2[c] | x | o]``,
    pyg_sgg's ``[E_2[c] | o | x]`` (input columns permuted); SGB's decoder embeds
    ``['start'] + classes`` (label ``c`` at row ``c + 1``, the background row unused),
    pyg_sgg's the classes with the start token at the background's row 0."""
    rename = {"obj_embed1": "obj_embed", "obj_embed2": "edge_embed", "pos_embed": "pos_mlp",
              "obj_ctx_rnn": "obj_rnn", "lin_obj_h": "obj_lin", "edge_ctx_rnn": "edge_rnn",
              "lin_edge_h": "edge_lin", "decoder_rnn.input_linearity": "decoder.input_lin",
              "decoder_rnn.state_linearity": "decoder.state_lin",
              "decoder_rnn.out_obj": "decoder.out", "decoder_rnn.obj_embed": "decoder.embed"}
    out = {}
    for k, v in w.items():
        if k in ("untreated_dcd_feat", "untreated_obj_feat"):
            continue  # SGB keeps them for NIE / TE, not for TDE
        if k == "untreated_edg_feat":
            out["untreated_edge_input"] = v
            continue
        prefix = max((p for p in rename if k.startswith(p + ".")), key=len)
        name = rename[prefix] + k[len(prefix):]
        if prefix == "decoder_rnn.obj_embed":
            v = torch.cat([v[:1], v[2:]])
        if prefix == "edge_ctx_rnn" and k.split(".")[1].startswith("weight_ih"):
            v = torch.cat([v[:, :embed], v[:, embed + feat:], v[:, embed:embed + feat]], 1)
        out[name] = v
    return out


def vctree_sgb_to_pyg(w, embed, feat):
    """SGB's VCTree state dict under pyg_sgg's names. SGB's edge Tree-LSTM reads
    ``[E_2[c] | x | o]``, pyg_sgg's ``[E_2[c] | o | x]`` (input columns permuted); SGB's
    decoder embeds ``['start'] + classes`` (label ``c`` at row ``c + 1``), pyg_sgg's the
    classes with the start token at the background's row 0; the co-occurrence prior is a
    ``[C + 1, C + 1]`` matrix instead of a ``Linear((C + 1)², 1)``."""
    out = {}
    for k, v in w.items():
        if k in ("untreated_dcd_feat", "untreated_obj_feat") or ".embed_layer." in k \
                or ".embed_out_layer." in k:
            continue  # NIE / TE buffers; the decoder's shared modules, mapped once below
        if k == "untreated_edg_feat":
            out["untreated_edge_input"] = v
        elif k == "bi_freq_prior.weight":
            c = int(round(v.numel() ** 0.5))
            out["freq_prior"] = v.view(c, c)
        elif k.startswith(("obj_ctx_rnn.", "edge_ctx_rnn.")):
            parts = k.split(".")  # {obj,edge}_ctx_rnn.multi_layer_lstm.L.<dir>.treeLSTM.<lin>.<p>
            name = ("obj_tree" if parts[0] == "obj_ctx_rnn" else "edge_tree")
            lin = TREE[".".join(parts[3:6])]
            if (parts[0] == "edge_ctx_rnn" and parts[2] == "0" and parts[-1] == "weight"
                    and lin in ("up_px", "up_x", "down_px", "down_x")):
                v = torch.cat([v[:, :embed], v[:, embed + feat:], v[:, embed:embed + feat]], 1)
            out[f"{name}.{parts[2]}.{lin}.{parts[-1]}"] = v
        elif k == "decoder_rnn.obj_embed.weight":
            out["decoder.embed.weight"] = torch.cat([v[:1], v[2:]])
        elif k.startswith("decoder_rnn.out."):
            out["decoder." + k[len("decoder_rnn."):]] = v
        elif k.startswith("decoder_rnn.decoderLSTM."):
            lin = {"px": "px", "iofux": "x_lin", "iofuh": "h_lin"}[k.split(".")[2]]
            out[f"decoder.{lin}.{k.split('.')[-1]}"] = v
        else:
            k = k.replace("obj_embed1.", "obj_embed.").replace("obj_embed2.", "edge_embed.")
            out[k.replace("pos_embed.", "pos_mlp.")] = v
    return out


def transformer_sgb_to_pyg(w):
    """SGB's Transformer state dict under pyg_sgg's names (its 1×1 convolutions of the
    feed-forward block as linear maps)."""
    layer = {"slf_attn.w_qs": "w_q", "slf_attn.w_ks": "w_k", "slf_attn.w_vs": "w_v",
             "slf_attn.fc": "w_out", "slf_attn.layer_norm": "attn_norm",
             "pos_ffn.w_1": "ffn_in", "pos_ffn.w_2": "ffn_out", "pos_ffn.layer_norm": "ffn_norm"}
    top = {"obj_embed1": "obj_embed", "obj_embed2": "edge_embed", "bbox_embed": "pos_mlp",
           "lin_obj": "obj_lin", "lin_edge": "edge_lin", "out_obj": "obj_out"}
    out = {}
    for k, v in w.items():
        parts = k.split(".")
        if parts[0] in ("context_obj", "context_edge"):  # context_X.layer_stack.i.a.b.p
            stack = "obj_layers" if parts[0] == "context_obj" else "edge_layers"
            k = f"{stack}.{parts[2]}.{layer['.'.join(parts[3:5])]}.{parts[5]}"
            v = v.squeeze(-1) if v.dim() == 3 else v
        else:
            k = ".".join([top[parts[0]]] + parts[1:])
        out[k] = v
    return out


@pytest.fixture(scope="module")
def transformer():
    return torch.load(GOLDEN / "transformer_golden.pt", weights_only=False)


@pytest.fixture(scope="module")
def motifs():
    return torch.load(GOLDEN / "motifs_golden.pt", weights_only=False)


@pytest.fixture(scope="module")
def vctree():
    return torch.load(GOLDEN / "vctree_golden.pt", weights_only=False)


def run(golden, encoder, task, training, average=False):
    """Build ``encoder`` with SGB's weights and run it on the golden inputs as SGB ran:
    ``(model, output, objects per image)``."""
    cfg, inp = golden["config"], golden["inputs"]
    args = (cfg["feat"], cfg["hidden"], cfg["num_classes"])
    if encoder == "motifs":
        model = MotifsContext(*args, embed_dim=cfg["embed"], dropout=0.0,
                              track_untreated=True)
        weights = motifs_sgb_to_pyg(golden["weights"], cfg["embed"], cfg["feat"])
    elif encoder == "transformer":  # the generator's TRANSFORMER.* settings
        model = TransformerContext(*args, embed_dim=cfg["embed"], num_obj_layers=2,
                                   num_edge_layers=1, heads=2, key_channels=8,
                                   value_channels=6, inner_channels=20, dropout=0.0)
        weights = transformer_sgb_to_pyg(golden["weights"])
    else:
        model = VCTreeContext(*args, embed_dim=cfg["embed"], dropout=0.0,
                              pred_dist=golden["pred_dist"], track_untreated=True)
        weights = vctree_sgb_to_pyg(golden["weights"], cfg["embed"], cfg["feat"])
    missing, unexpected = model.load_state_dict(weights, strict=True)
    assert not missing and not unexpected
    model.train(training)
    if training:
        model.untreated_edge_input.zero_()
    extra = {"average_edge_input": average} if encoder != "transformer" else {}
    counts = [b.size(0) for b in inp["boxes"]]
    batch = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    sizes = torch.tensor([[h, w] for w, h in golden["sizes"]])[batch]
    boxes = torch.cat(inp["boxes"])
    labels = torch.cat(inp["det_labels" if task == "sgdet" else "labels"])
    if task == "predcls":
        obj_dist = F.one_hot(labels, cfg["num_classes"]).float()
    else:
        obj_dist = torch.softmax(inp["predict_logits"], dim=-1)
    if model.uses_boxes:
        extra["boxes"] = boxes
    with torch.no_grad():
        out = model(inp["x"], box_geometry(boxes, sizes), obj_dist, batch=batch,
                    obj_labels=labels if (training or task != "sgdet") else None, **extra)
    return model, out, counts


def check(model, out, ref, phase):
    """Node states, object logits, the committed labels (SGB's ``obj_preds``, which its
    predictors index the frequency bias with), the TDE average."""
    torch.testing.assert_close(out.node_states, ref["edge_ctx"], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out.obj_logits, ref["obj_dists"], atol=1e-5, rtol=1e-5)
    assert torch.equal(out.obj_labels, ref["obj_preds"])
    if phase == "train":  # the TDE's moving average of the edge-context input
        torch.testing.assert_close(model.untreated_edge_input, ref["untreated_edg_feat"],
                                   atol=1e-8, rtol=1e-5)


@pytest.mark.parametrize("case", ["predcls_test", "predcls_test_tde", "sgcls_test",
                                  "sgcls_train", "sgdet_train"])
def test_motifs_matches_sgb(motifs, case):
    task, phase = case.split("_")[:2]
    model, out, _ = run(motifs, "motifs", task, phase == "train", case.endswith("tde"))
    check(model, out, motifs[case], phase)


def test_motifs_decoded_labels_match_sgb(motifs):
    """The labels SGB's decoder commits to (greedy at test; at SGDet training the GT, its own
    prediction where the proposal is background) are the labels pyg_sgg embeds: equal edge
    contexts above depend on them."""
    _, out, _ = run(motifs, "motifs", "sgcls", False)
    assert torch.equal(out.obj_logits[:, 1:].argmax(-1) + 1, motifs["sgcls_test"]["obj_preds"])
    _, out, _ = run(motifs, "motifs", "sgdet", True)
    ref = motifs["sgdet_train"]["obj_preds"]
    labels = torch.cat(motifs["inputs"]["det_labels"])
    bg = labels == 0
    assert bool(bg.any()) and bool((~bg).any())
    assert torch.equal(ref[~bg], labels[~bg])
    assert torch.equal(ref[bg], out.obj_logits[bg, 1:].argmax(-1) + 1)


@pytest.mark.parametrize("case", ["predcls_test", "predcls_test_tde", "sgcls_test",
                                  "predcls_train"])
def test_vctree_matches_sgb(vctree, case):
    """Also the tree-score logits (and so the forest); SGCls training has no fixed numbers
    (SGB's decoder samples the labels it passes down)."""
    task, phase = case.split("_")[:2]
    model, out, counts = run(vctree, "vctree", task, phase == "train", case.endswith("tde"))
    ref = vctree[case]
    for b, (n, logits) in enumerate(zip(counts, ref["pair_logits"])):
        torch.testing.assert_close(out.pair_scores.logits[b, :n, :n], logits, atol=1e-5,
                                   rtol=1e-5)
    check(model, out, ref, phase)
    if task != "predcls":
        assert torch.equal(out.obj_logits[:, 1:].argmax(-1) + 1, ref["obj_preds"])


@pytest.mark.parametrize("case", ["predcls_test", "sgcls_test"])
def test_transformer_matches_sgb(transformer, case):
    """SGB's TransformerContext at test (its box embedding always has dropout)."""
    task, phase = case.split("_")[:2]
    model, out, _ = run(transformer, "transformer", task, False)
    check(model, out, transformer[case], phase)
