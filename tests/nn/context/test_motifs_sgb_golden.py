"""pyg_sgg's Motifs context against numbers computed by SGB's unmodified ``LSTMContext`` and
``DecoderRNN`` (tests/golden/make_motifs_golden.py; only numbers are stored): node states,
decoded labels and object logits in PredCls, SGCls and SGDet, training and test, the TDE
counterfactual and its moving average."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pyg_sgg.nn.box_geometry import box_geometry
from pyg_sgg.nn.context.motifs import MotifsContext

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "motifs_golden.pt"


def sgb_to_pyg(w, embed, feat):
    """SGB's state dict under pyg_sgg's names. SGB's edge LSTM reads ``[E_2[c] | x | o]``,
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


@pytest.fixture(scope="module")
def golden():
    return torch.load(GOLDEN, weights_only=False)


def run(golden, task, training, average=False):
    cfg, inp = golden["config"], golden["inputs"]
    model = MotifsContext(cfg["feat"], cfg["hidden"], cfg["num_classes"],
                          embed_dim=cfg["embed"], dropout=0.0, track_untreated=True)
    missing, unexpected = model.load_state_dict(
        sgb_to_pyg(golden["weights"], cfg["embed"], cfg["feat"]), strict=True)
    assert not missing and not unexpected
    model.train(training)
    if training:
        model.untreated_edge_input.zero_()
    counts = [b.size(0) for b in inp["boxes"]]
    batch = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    sizes = torch.tensor([[h, w] for w, h in golden["sizes"]])[batch]
    pos = box_geometry(torch.cat(inp["boxes"]), sizes)
    labels = torch.cat(inp["det_labels" if task == "sgdet" else "labels"])
    if task == "predcls":
        obj_dist = F.one_hot(labels, cfg["num_classes"]).float()
    else:
        obj_dist = torch.softmax(inp["predict_logits"], dim=-1)
    given = labels if (training or task != "sgdet") else None
    with torch.no_grad():
        out = model(inp["x"], pos, obj_dist, batch=batch, obj_labels=given,
                    average_edge_input=average)
    return model, out


@pytest.mark.parametrize("case", ["predcls_test", "predcls_test_tde", "sgcls_test",
                                  "sgcls_train", "sgdet_train"])
def test_node_states_and_labels_match_sgb(golden, case):
    task, phase = case.split("_")[:2]
    model, out = run(golden, task, phase == "train", average=case.endswith("tde"))
    ref = golden[case]
    torch.testing.assert_close(out.node_states, ref["edge_ctx"], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out.obj_logits, ref["obj_dists"], atol=1e-5, rtol=1e-5)
    if phase == "train":  # the TDE's moving average of the edge-context input
        torch.testing.assert_close(model.untreated_edge_input, ref["untreated_edg_feat"],
                                   atol=1e-8, rtol=1e-5)


def test_decoded_labels_match_sgb(golden):
    """The labels SGB's decoder commits to (greedy at test; at SGDet training the GT, its own
    prediction where the proposal is background) are the labels pyg_sgg embeds: equal edge
    contexts above depend on them; checked here against a model fed SGB's labels."""
    for case, task, training in (("sgcls_test", "sgcls", False),
                                 ("sgdet_train", "sgdet", True)):
        _, out = run(golden, task, training)
        ref = golden[case]["obj_preds"]
        assert torch.equal(out.obj_logits[:, 1:].argmax(-1) + 1, ref) or training
        if training:  # background rows take the decoder's prediction
            labels = torch.cat(golden["inputs"]["det_labels"])
            bg = labels == 0
            assert bool(bg.any()) and bool((~bg).any())
            assert torch.equal(ref[~bg], labels[~bg])
            assert torch.equal(ref[bg], out.obj_logits[bg, 1:].argmax(-1) + 1)
