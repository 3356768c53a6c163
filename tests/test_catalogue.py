"""docs/catalogue.md cannot drift: its generated part must equal what the registries generate now."""

from __future__ import annotations

from asyncsgd.algorithms import ALGORITHMS
from asyncsgd.cli.catalogue import PAGE, render
from asyncsgd.codecs import CODECS
from asyncsgd.rules import OPTIMIZERS, REMEDIES


def test_catalogue_page_matches_the_registries():
    text = PAGE.read_text()
    assert "<!-- catalogue -->" in text and "<!-- /catalogue -->" in text
    assert render(text) == text, "run: python -m asyncsgd.cli.catalogue --write"


def test_catalogue_has_a_section_for_every_registered_part():
    text = PAGE.read_text()
    for kind, registry in (
        ("codec", CODECS),
        ("remedy", REMEDIES),
        ("optimizer", OPTIMIZERS),
        ("algorithm", ALGORITHMS),
    ):
        for name in registry.names():
            assert f'<a id="{kind}-{name}"></a>' in text, f"{kind} {name}"
            assert f"](#{kind}-{name})" in text, f"{kind} {name} missing from its table"


def test_list_shows_the_algorithms(capsys):
    from asyncsgd.cli.main import main

    assert main(["list", "algorithms"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ALGORITHMS.names())
