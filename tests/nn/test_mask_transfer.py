import pytest
import torch

from pyg_sgg.data.mask_transfer import (base_classes, load_aliases,
                                        transfer_embeddings, transfer_matrix)
from pyg_sgg.nn.mask_transfer import MaskTransfer

VG = ["__background__", "man", "table", "horse", "unicorn", "flying saucer"]
COCO = ["__background__", "person", "dining table", "horse", "airplane"]


def embeddings(seed=0):
    g = torch.Generator().manual_seed(seed)
    vg, coco = torch.randn(len(VG), 8, generator=g), torch.randn(len(COCO), 8, generator=g)
    coco[3] = 3 * vg[4]     # unicorn is close to horse
    vg[5] = torch.zeros(8)  # flying saucer: equal similarity to every COCO class
    return vg, coco


def test_base_classes_from_the_alias_table_and_names():
    assert load_aliases()["man"] == "person" and load_aliases()["table"] == "dining table"
    assert base_classes(VG, COCO).tolist() == [0, 1, 2, -1, -1]


def test_rows_sum_to_one_zero_below_threshold_and_base_rows_copy():
    vg, coco = embeddings()
    T, base = transfer_matrix(VG, COCO, vg, coco, threshold=0.05)
    assert T.shape == (5, 4)
    torch.testing.assert_close(T.sum(-1), torch.ones(5))
    sim = torch.softmax(vg[1:] @ coco[1:].t(), -1)
    novel = base < 0
    assert bool((T[novel][sim[novel] < 0.05] == 0).all())
    assert T[3].argmax() == 2  # unicorn mostly from horse
    x = torch.randn(3, 4, 7, 7)
    out = MaskTransfer(T)(x)
    for c in (base >= 0).nonzero().view(-1).tolist():
        assert torch.equal(out[:, c], x[:, base[c]])  # exact copy
    want = torch.einsum("ck,rkhw->rchw", T, x)
    torch.testing.assert_close(out, want)


def test_a_class_without_a_neighbour_above_the_threshold():
    vg, coco = embeddings()
    T, _ = transfer_matrix(VG, COCO, vg, coco, threshold=0.3)  # 1/4 each < 0.3
    torch.testing.assert_close(T[4], torch.full((4,), 0.25))   # its plain softmax
    T0, _ = transfer_matrix(VG, COCO, vg, coco, threshold=0.3, empty_rows="zero")
    assert T0[4].abs().sum() == 0 and torch.isfinite(T0).all()


def test_layer_batching_background_channel_and_empty():
    vg, coco = embeddings()
    layer = MaskTransfer(transfer_matrix(VG, COCO, vg, coco)[0])
    x = torch.randn(5, 5, 4, 4)
    full = layer(x, background_channel=True)
    parts = torch.cat([layer(x[:2], True), layer(x[2:], True)])
    torch.testing.assert_close(full, parts)
    assert layer(torch.zeros(0, 4, 28, 28)).shape == (0, 5, 28, 28)
    with pytest.raises(ValueError, match="3 COCO channels, the map has 4"):
        layer(torch.zeros(1, 3, 2, 2))


def test_transfer_embeddings_refuse_random_vectors(monkeypatch, tmp_path):
    from pyg_sgg.data import word_embeddings as we
    monkeypatch.setenv("PYG_SGG_CACHE", str(tmp_path))

    def missing(names):
        raise ImportError("no sentence_transformers")
    monkeypatch.setattr(we, "_minilm", missing)
    with pytest.raises(RuntimeError, match="pip install -e '.\\[language\\]' or give a GloVe"):
        transfer_embeddings(["__background__", "man"])
    glove = tmp_path / "g.txt"
    glove.write_text("man 1 0\nperson 0.9 0.1\n")
    assert transfer_embeddings(["__background__", "man"], str(glove)).shape[0] == 2
