"""Text classification corpora as tensors: a vocabulary, then bag-of-words, TF-IDF or token ids.

The pipeline is fitted on the train split only and applied to both splits:

1. **Tokens**: each document is lower-cased and split on whitespace.
2. **Vocabulary** (``text_vocab``): ``top`` keeps the ``vocab_size`` most frequent train words
   (ties broken alphabetically) as ids ``1 … V``; ``hash`` maps every word ``w`` to the bucket
   ``1 + crc32(w) mod vocab_size`` (stable across processes and runs). Id 0 is :data:`PAD_ID`;
   words outside a ``top`` vocabulary are dropped.
3. **Features** (``text_features``), for document d and word j with count ``c_dj``:

   * ``bow``: ``x_dj = c_dj / ‖c_d‖₂`` (L2-normalised counts), dense float32 ``(N, V)``;
   * ``tfidf``: ``x_dj ∝ c_dj · (ln((1 + N) / (1 + df_j)) + 1)``, L2-normalised per document, with
     ``N`` train documents of which ``df_j`` contain word j (the smoothed IDF of Salton-style
     retrieval, as in scikit-learn's ``smooth_idf``);
   * ``tokens``: the first ``max_tokens`` word ids of each document, padded with ``PAD_ID`` to
     the longest kept length, int64 ``(N, L)`` — the input of an embedding-bag model.
"""

from __future__ import annotations

import itertools
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from asyncsgd.data.base import PAD_ID, Dataset
from asyncsgd.errors import ConfigError

TEXT_FEATURES = ("bow", "tfidf", "tokens")
TEXT_VOCABS = ("top", "hash")
DENSE_LIMIT_BYTES = 4 * 2**30
"""Dense bag-of-words matrices beyond this size are refused (suggesting tokens or a smaller V)."""


@dataclass(frozen=True)
class TextOptions:
    """How documents become tensors (the ``text_*``, ``vocab_size`` and ``max_tokens`` settings)."""

    features: str = "tfidf"
    vocab: str = "top"
    vocab_size: int = 5000
    max_tokens: int = 256

    def validate(self) -> TextOptions:
        if self.features not in TEXT_FEATURES:
            raise ConfigError(
                "text_features", f"must be one of {', '.join(TEXT_FEATURES)}, got {self.features!r}"
            )
        if self.vocab not in TEXT_VOCABS:
            raise ConfigError("text_vocab", f"must be one of {', '.join(TEXT_VOCABS)}, got {self.vocab!r}")
        if not 1 <= self.vocab_size <= 2**24:
            raise ConfigError("vocab_size", f"must be in [1, 2^24], got {self.vocab_size}")
        if self.max_tokens < 1:
            raise ConfigError("max_tokens", f"must be >= 1, got {self.max_tokens}")
        return self


@dataclass(frozen=True)
class Vocabulary:
    """Word → id in ``1 … size`` (0 is padding): the train split's top words, or hash buckets."""

    kind: str
    size: int
    words: dict[str, int]

    @classmethod
    def fit(cls, docs: Sequence[list[str]], kind: str, size: int) -> Vocabulary:
        if kind == "hash":
            return cls(kind, size, {})
        counts = Counter(itertools.chain.from_iterable(docs))
        ranked = sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))[:size]
        return cls(kind, len(ranked), {w: i + 1 for i, (w, _) in enumerate(ranked)})

    def lookup(self, words: set[str]) -> dict[str, int]:
        """Ids of ``words`` (PAD_ID for a word outside a top vocabulary)."""
        if self.kind == "hash":
            return {w: 1 + zlib.crc32(w.encode()) % self.size for w in words}
        get = self.words.get
        return {w: get(w, PAD_ID) for w in words}


@dataclass(frozen=True)
class Encoded:
    """One split as flat word ids (dropped words removed) with each id's document."""

    ids: np.ndarray
    doc: np.ndarray
    n_docs: int

    @classmethod
    def of(cls, docs: Sequence[list[str]], vocab: Vocabulary) -> Encoded:
        flat = list(itertools.chain.from_iterable(docs))
        table = vocab.lookup(set(flat))
        ids = np.fromiter(map(table.__getitem__, flat), dtype=np.int64, count=len(flat))
        doc = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
        keep = ids != PAD_ID
        return cls(ids[keep], doc[keep], len(docs))

    def counts(self, width: int) -> np.ndarray:
        """Dense ``(n_docs, width)`` float32 word counts (column j holds id j + 1)."""
        out = np.zeros((self.n_docs, width), dtype=np.float32)
        keys, n = np.unique(self.doc * width + (self.ids - 1), return_counts=True)
        out.reshape(-1)[keys] = n
        return out

    def padded(self, length: int) -> np.ndarray:
        """``(n_docs, length)`` int64 ids: each document's first ``length`` ids, then PAD_ID."""
        out = np.full((self.n_docs, length), PAD_ID, dtype=np.int64)
        starts = np.searchsorted(self.doc, np.arange(self.n_docs))
        pos = np.arange(self.ids.size) - starts[self.doc]
        keep = pos < length
        out[self.doc[keep], pos[keep]] = self.ids[keep]
        return out

    def longest(self) -> int:
        return int(np.bincount(self.doc, minlength=self.n_docs).max()) if self.ids.size else 0


def _l2_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    return [t.lower().split() for t in texts]


def text_dataset(
    name: str,
    train: tuple[Sequence[str], Sequence[str]],
    test: tuple[Sequence[str], Sequence[str]],
    options: TextOptions,
    source: str = "",
    test_file: str = "test split",
) -> Dataset:
    """A :class:`Dataset` from ``(texts, categories)`` of each split (class ids: sorted categories)."""
    opts = options.validate()
    classes = sorted(set(train[1]))
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(test[1]) - set(classes))
    if unknown:
        raise ConfigError(
            "data_path", f"{test_file}: category {unknown[0]!r} does not occur in the train split"
        )
    y_train = np.array([index[c] for c in train[1]], dtype=np.int64)
    y_test = np.array([index[c] for c in test[1]], dtype=np.int64)
    docs_train, docs_test = tokenize(train[0]), tokenize(test[0])
    vocab = Vocabulary.fit(docs_train, opts.vocab, opts.vocab_size)
    enc_train, enc_test = Encoded.of(docs_train, vocab), Encoded.of(docs_test, vocab)
    described = f"{source} ({opts.features}, {opts.vocab} vocabulary of {vocab.size})"
    if opts.features == "tokens":
        length = max(1, min(opts.max_tokens, max(enc_train.longest(), enc_test.longest())))
        return Dataset.from_tokens(
            name, enc_train.padded(length), y_train, enc_test.padded(length), y_test,
            vocab.size + 1, len(classes), described,
        )  # fmt: skip
    need = (len(docs_train) + len(docs_test)) * vocab.size * 4
    if need > DENSE_LIMIT_BYTES:
        raise ConfigError(
            "vocab_size",
            f"{name}: {vocab.size} dense {opts.features} features would take {need / 2**30:.1f} GiB; "
            "lower vocab_size or use text_features='tokens'",
        )
    x_train, x_test = enc_train.counts(vocab.size), enc_test.counts(vocab.size)
    if opts.features == "tfidf":
        df = np.count_nonzero(x_train, axis=0)
        idf = (np.log((1.0 + len(docs_train)) / (1.0 + df)) + 1.0).astype(np.float32)
        x_train *= idf
        x_test *= idf
    return Dataset.from_arrays(
        name, _l2_rows(x_train), y_train, _l2_rows(x_test), y_test, len(classes), described
    )
