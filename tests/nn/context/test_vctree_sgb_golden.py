"""pyg_sgg's VCTree context against numbers computed by SGB's unmodified
``VCTreeLSTMContext`` (tests/golden/make_sgb_context_golden.py; only numbers are stored): the
pair logits of the tree scores, the forest they give, the highway Tree-LSTMs' node states and
the tree decoder's labels, in PredCls and SGCls, training and test, with the TDE
counterfactual and its moving average."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pyg_sgg.nn.box_geometry import box_geometry
from pyg_sgg.nn.context.vctree import VCTreeContext

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "vctree_golden.pt"
TREE = {"treeLSTM_foreward.treeLSTM.px": "up_px", "treeLSTM_foreward.treeLSTM.ioffux": "up_x",
        "treeLSTM_foreward.treeLSTM.ioffuh_left": "up_h_left",
        "treeLSTM_foreward.treeLSTM.ioffuh_right": "up_h_right",
        "treeLSTM_backward.treeLSTM.px": "down_px", "treeLSTM_backward.treeLSTM.iofux": "down_x",
        "treeLSTM_backward.treeLSTM.iofuh": "down_h"}


def sgb_to_pyg(w, embed, feat):
    """SGB's state dict under pyg_sgg's names. SGB's edge Tree-LSTM reads
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


@pytest.fixture(scope="module")
def golden():
    return torch.load(GOLDEN, weights_only=False)


def run(golden, task, training, average=False):
    cfg, inp = golden["config"], golden["inputs"]
    model = VCTreeContext(cfg["feat"], cfg["hidden"], cfg["num_classes"],
                          embed_dim=cfg["embed"], dropout=0.0, pred_dist=golden["pred_dist"],
                          track_untreated=True)
    missing, unexpected = model.load_state_dict(
        sgb_to_pyg(golden["weights"], cfg["embed"], cfg["feat"]), strict=True)
    assert not missing and not unexpected
    model.train(training)
    if training:
        model.untreated_edge_input.zero_()
    counts = [b.size(0) for b in inp["boxes"]]
    batch = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    sizes = torch.tensor([[h, w] for w, h in golden["sizes"]])[batch]
    boxes = torch.cat(inp["boxes"])
    labels = torch.cat(inp["labels"])
    if task == "predcls":
        obj_dist = F.one_hot(labels, cfg["num_classes"]).float()
    else:
        obj_dist = torch.softmax(inp["predict_logits"], dim=-1)
    with torch.no_grad():
        out = model(inp["x"], box_geometry(boxes, sizes), obj_dist, batch=batch,
                    obj_labels=labels, boxes=boxes, average_edge_input=average)
    return model, out, counts


@pytest.mark.parametrize("case", ["predcls_test", "predcls_test_tde", "sgcls_test",
                                  "predcls_train"])
def test_vctree_matches_sgb(golden, case):
    task, phase = case.split("_")[:2]
    model, out, counts = run(golden, task, phase == "train", average=case.endswith("tde"))
    ref = golden[case]
    for b, (n, logits) in enumerate(zip(counts, ref["pair_logits"])):
        torch.testing.assert_close(out.pair_scores.logits[b, :n, :n], logits, atol=1e-5,
                                   rtol=1e-5)
    torch.testing.assert_close(out.node_states, ref["edge_ctx"], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out.obj_logits, ref["obj_dists"], atol=1e-5, rtol=1e-5)
    if task != "predcls":
        assert torch.equal(out.obj_logits[:, 1:].argmax(-1) + 1, ref["obj_preds"])
    if phase == "train":  # the TDE's moving average of the edge-context input
        torch.testing.assert_close(model.untreated_edge_input, ref["untreated_edg_feat"],
                                   atol=1e-8, rtol=1e-5)
