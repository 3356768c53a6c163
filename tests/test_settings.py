"""Settings declared by the parts: one declaration a name, known to the config the moment a part
is registered, and the config's canonical form (run ids) unchanged by settings added later."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
import torch

from asyncsgd.cli.list_cmd import settings_markdown, settings_text
from asyncsgd.cli.main import main
from asyncsgd.codecs import CODECS
from asyncsgd.codecs.base import RATIO
from asyncsgd.codecs.identity import Identity
from asyncsgd.config import RunConfig
from asyncsgd.config.legacy import DeprecatedSetting
from asyncsgd.config.settings import conflicts, declared
from asyncsgd.errors import ConfigError
from asyncsgd.registry import Entry
from asyncsgd.vocabulary.flat import FlatLayout
from asyncsgd.vocabulary.settings import setting

GAIN = setting("gain", 1.0, "throwaway: factor the codec multiplies every gradient by", 0, 10, True)


class Gain(Identity):
    """``C(x) = g·x``: a codec with a setting no other part has."""

    name = "gain"
    settings = (GAIN,)
    reference = "none: a test's codec"
    built: ClassVar[list[float]] = []

    def __init__(self, layout: FlatLayout, gain: float = 1.0) -> None:
        super().__init__(layout)
        self.gain = gain
        Gain.built.append(gain)

    def encode(self, x, seed):
        payload = super().encode(x, seed)
        payload.arrays["values"].mul_(self.gain)
        return payload


@pytest.fixture
def gain_codec(monkeypatch):
    """``gain`` registered for this test only (registries are filled at import and never emptied)."""
    monkeypatch.setitem(CODECS._entries, "gain", Entry("gain", Gain, "throwaway codec with its own setting"))
    Gain.built.clear()
    return Gain


def test_no_two_parts_declare_one_setting_differently():
    assert conflicts() == []


def test_a_part_declaring_a_shared_setting_differently_is_found(monkeypatch):
    other = setting("ratio", 0.5, RATIO.help, 0, 1, True)
    odd = type("Odd", (Identity,), {"name": "odd", "settings": (other,)})
    monkeypatch.setitem(CODECS._entries, "odd", Entry("odd", odd, "odd"))
    assert [p for p in conflicts() if "'ratio'" in p and "codec odd" in p]


def test_a_part_taking_an_undeclared_run_setting_is_found(monkeypatch):
    odd = type("Odd", (Identity,), {"name": "odd", "settings": ("no_such_setting",)})
    monkeypatch.setitem(CODECS._entries, "odd", Entry("odd", odd, "odd"))
    assert [p for p in conflicts() if "no_such_setting" in p]


def test_a_part_registered_after_import_is_known_to_the_config(gain_codec):
    assert declared()["gain"] is GAIN
    cfg = RunConfig.from_dict({"updates": 1, "codec": "gain", "gain": 2.0})
    assert cfg.gain == 2.0 and cfg.to_dict()["gain"] == 2.0
    assert "gain" in settings_text() and "| `gain` | `1.0` |" in settings_markdown()
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({"updates": 1, "codec": "gain", "gain": 0})
    assert err.value.key == "gain" and "(0, 10]" in err.value.message


def test_a_setting_added_later_leaves_run_ids_alone_at_its_default(gain_codec):
    plain = json.loads(RunConfig.from_dict({"updates": 1}).canonical())
    assert "gain" not in plain
    assert json.loads(RunConfig.from_dict({"updates": 1, "gain": 3.0}).canonical())["gain"] == 3.0


SMALL = ["engine=sim", "dataset=synthetic", "model=mlp", "hidden=[16]", "learners=2", "batch_size=16",
         "updates=5", "epochs=0", "codec=gain"]  # fmt: skip


def sets(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def test_a_throwaway_codec_with_its_own_setting_runs_through_the_command_line(gain_codec, tmp_path, capsys):
    assert main(["run", "--quiet", "--out", str(tmp_path / "run"), *sets([*SMALL, "gain=2.5"])]) == 0
    assert gain_codec.built and set(gain_codec.built) == {2.5}
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "gain" in json.dumps(summary)
    capsys.readouterr()
    assert main(["run", "--quiet", "--out", str(tmp_path / "bad"), *sets([*SMALL, "gain=50"])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("asyncsgd: error: gain: must be in (0, 10]")
    assert not (tmp_path / "bad").exists()


def test_an_optimizer_is_refused_under_a_protocol_it_does_not_declare(job_factory):
    with pytest.raises(ConfigError) as err:
        job_factory(rule="async_momentum", protocol="sync")
    assert err.value.key == "rule" and "async or sequential" in err.value.message
    job_factory(rule="async_momentum", protocol="sequential")


@pytest.mark.parametrize(
    ("codec", "ratio"), [("identity", 1.0), ("qsgd", 1.0), ("topk", 0.2), ("randomk", 0.2)]
)
def test_the_summary_ratio_is_the_codecs_own_setting(codec, ratio):
    from asyncsgd.metrics.summary import kept_ratio

    assert kept_ratio(RunConfig.from_dict({"updates": 1, "codec": codec, "ratio": 0.2})) == ratio


OLD_AND_NEW = [
    ({"algorithm": "eamsgd", "momentum": 0.5, "local_steps": 3},
     {"algorithm": "eamsgd", "local_momentum": 0.5, "exchange_period": 3}),
    ({"algorithm": "easgd", "local_steps": 2}, {"algorithm": "easgd", "exchange_period": 2}),
    ({"delay": "fixed", "staleness": 3}, {"schedule": "fixed", "staleness": 3}),
    ({"delay": "trace:runs/x"}, {"schedule": "trace", "trace": "runs/x"}),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new"), OLD_AND_NEW, ids=["eamsgd", "easgd", "fixed", "trace"])
def test_an_old_spelling_is_read_as_its_new_key_with_the_same_run_id(old, new):
    with pytest.warns(DeprecatedSetting) as caught:
        before = RunConfig.from_dict({"updates": 1, **old})
    assert all("\n" not in str(w.message) for w in caught)
    after = RunConfig.from_dict({"updates": 1, **new})
    assert before == after and before.canonical() == after.canonical()
    legacy = json.loads(after.canonical())
    assert {k: legacy[k] for k in old} == old and not (set(new) - set(old)) & set(legacy)


def test_server_momentum_is_not_an_old_spelling():
    cfg = RunConfig.from_dict({"updates": 1, "rule": "momentum", "momentum": 0.5, "algorithm": "localsgd"})
    assert cfg.momentum == 0.5 and cfg.local_momentum == 0.9


def test_old_and_new_spellings_run_the_same_eamsgd(job_factory):
    from tests.conftest import run_sim

    with pytest.warns(DeprecatedSetting):
        old = run_sim(job_factory(algorithm="eamsgd", momentum=0.5, local_steps=2, updates=8))[0]
    new = run_sim(job_factory(algorithm="eamsgd", local_momentum=0.5, exchange_period=2, updates=8))[0]
    assert torch.equal(old.params, new.params)


def test_the_command_line_prints_a_deprecated_spelling_as_one_line(tmp_path, capsys):
    small = [s for s in SMALL if not s.startswith("codec=")]
    assert main(["run", "--quiet", "--out", str(tmp_path / "run"), *sets([*small, "delay=fixed"])]) == 0
    err = capsys.readouterr().err
    assert err.count("asyncsgd: warning:") == 1 and 'schedule = "fixed"' in err and "Warning" not in err
