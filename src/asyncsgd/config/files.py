"""Experiment files: a base config plus named methods that override some of its keys, read from TOML
with `--set` overrides, and written back resolved.

An experiment file is TOML. Top-level keys are settings shared by every method (plus ``name``,
the experiment's name); each ``[[methods]]`` table has a ``name`` and the settings it changes::

    name = "default"
    dataset = "mnist5k"
    learners = 8

    [[methods]]
    name = "downpour"

    [[methods]]
    name = "topk-ef"
    codec = "topk"
    error_feedback = true

``--set key=value`` overrides ``key`` in every method (it wins over the method's own value);
``--set METHOD.key=value`` overrides it in one method only.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from asyncsgd.config.schema import RunConfig
from asyncsgd.errors import ConfigError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
"""Names of experiments, sweeps and methods: they name files and directories, so no separator,
no leading dot, and nothing after the last character (``$`` would allow a final newline)."""


@dataclass(frozen=True)
class Method:
    name: str
    config: RunConfig


@dataclass(frozen=True)
class Experiment:
    name: str
    methods: tuple[Method, ...]
    source: str = "<embedded default>"


def parse_value(text: str) -> Any:
    """A ``--set`` value: TOML syntax when it parses (numbers, booleans, lists), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def method_entries(raw: object, per_method: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The ``[[methods]]`` array as (unique name, settings without the name); ``per_method``
    (``--set METHOD.key=value``) must name only methods that exist."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError("methods", "must be a non-empty array of tables ([[methods]])")
    found: list[tuple[str, dict[str, Any]]] = []
    names: set[str] = set()
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ConfigError(f"methods[{i}]", "must be a table")
        entry = dict(entry)
        name = str(entry.pop("name", f"method{i}"))
        if not NAME.match(name) or name in names:
            raise ConfigError(f"methods[{i}].name", f"must be unique letters/digits/._-, got {name!r}")
        names.add(name)
        found.append((name, entry))
    unknown = sorted(set(per_method) - names)
    if unknown:
        have = ", ".join(n for n, _ in found)
        raise ConfigError(f"{unknown[0]}.*", f"no method named {unknown[0]!r} (have: {have})")
    return found


def parse_overrides(items: list[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``["k=v", "m.k=v"]`` → (global overrides, per-method overrides)."""
    common: dict[str, Any] = {}
    per_method: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(item, "expected --set key=value")
        value = parse_value(raw.strip())
        if "." in key:
            method, _, sub = key.partition(".")
            per_method.setdefault(method, {})[sub] = value
        else:
            common[key] = value
    return common, per_method


MAX_CONFIG_BYTES = 16 * 2**20
"""Largest config file read (a settings file is a few KiB; this refuses a disk image or a pipe)."""


def load_toml(path: Path) -> dict[str, Any]:
    """The TOML document in ``path``; a ConfigError naming the path for anything unreadable."""
    try:
        if path.is_dir():
            raise ConfigError(str(path), "is a directory, not a config file")
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(str(path), "config file not found") from None
    except OSError as err:  # a symlink loop, no permission, a device that fails to read
        raise ConfigError(str(path), f"cannot read the config file ({err.strerror or err})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(str(path), f"larger than {MAX_CONFIG_BYTES // 2**20} MiB: not a config file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(str(path), f"not UTF-8 text (byte {err.start}): not a TOML config file") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(str(path), f"not valid TOML ({err})") from None
    except RecursionError:
        raise ConfigError(str(path), "not valid TOML (nested too deeply)") from None


def default_document() -> dict[str, Any]:
    text = resources.files("asyncsgd.config").joinpath("default.toml").read_text()
    return tomllib.loads(text)


def build_experiment(
    document: dict[str, Any],
    overrides: list[str] | None = None,
    source: str = "<embedded default>",
    only: list[str] | None = None,
) -> Experiment:
    """Resolve a parsed experiment document and ``--set`` overrides into validated configs."""
    doc = dict(document)
    name = str(doc.pop("name", "experiment"))
    if not NAME.match(name):
        raise ConfigError("name", f"must be letters/digits/._- (it names the run directory), got {name!r}")
    common, per_method = parse_overrides(overrides or [])
    methods: list[Method] = []
    entries = method_entries(doc.pop("methods", [{"name": "run"}]), per_method)
    names = [n for n, _ in entries]
    for mname, entry in entries:
        values = {**doc, **entry, **common, **per_method.get(mname, {})}
        try:
            cfg = RunConfig.from_dict(values)
        except ConfigError as err:
            own = err.key in entry or err.key in per_method.get(mname, {})
            where = f"{mname}.{err.key}" if own and len(entries) > 1 else err.key
            raise ConfigError(where, err.message) from None
        methods.append(Method(mname, cfg))
    if only:
        missing = [m for m in only if m not in names]
        if missing:
            raise ConfigError("--methods", f"no method named {missing[0]!r} (have: {', '.join(names)})")
        methods = [m for m in methods if m.name in only]
    return Experiment(name, tuple(methods), source)


LOOPBACK_HOSTS = ("localhost", "::1", "[::1]")


def remote_cluster(address: str) -> bool:
    """Whether ``ray_address`` names a Ray cluster beyond this machine (``""``: a private
    instance; ``auto``: the cluster started on this machine; loopback ``host:port``)."""
    if address in ("", "auto"):
        return False
    host = address.removeprefix("ray://").rpartition(":")[0] or address.removeprefix("ray://")
    return not (host in LOOPBACK_HOSTS or host.startswith("127."))


def confirm_clusters(configs: Iterable[RunConfig], overrides: list[str] | None, source: str) -> None:
    """A file read from ``source`` may not send this process to a remote Ray cluster on its own:
    joining one lets that cluster run code here (Ray ships pickled functions and objects), so the
    address must also be given on the command line (``--set ray_address=ADDR``)."""
    common, per_method = parse_overrides(overrides or [])
    confirmed = {common.get("ray_address")} | {m.get("ray_address") for m in per_method.values()}
    for cfg in configs:
        if remote_cluster(cfg.ray_address) and cfg.ray_address not in confirmed:
            raise ConfigError(
                "ray_address", f"{source} joins the Ray cluster at {cfg.ray_address!r}, which could run "
                f"code in this process; confirm it with --set ray_address={cfg.ray_address}",
            )  # fmt: skip


def load_experiment(
    path: str | Path | None, overrides: list[str] | None = None, only: list[str] | None = None
) -> Experiment:
    """The experiment in ``path`` (or the embedded default) with ``--set`` overrides applied; a
    remote ``ray_address`` from the file needs the same ``--set`` (:func:`confirm_clusters`)."""
    if path is None:
        return build_experiment(default_document(), overrides, only=only)
    p = Path(path)
    exp = build_experiment(load_toml(p), overrides, source=str(p), only=only)
    confirm_clusters((m.config for m in exp.methods), overrides, str(p))
    return exp


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if math.isnan(value):
            return "nan"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dump_toml(values: dict[str, Any], header: str = "") -> str:
    """Flat ``key = value`` TOML (the subset resolved configs need)."""
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def dump_experiment(exp: Experiment) -> str:
    """The fully resolved experiment as TOML: every key of every method, nothing implicit."""
    parts = [dump_toml({"name": exp.name}, header=f"resolved from {exp.source}")]
    for m in exp.methods:
        parts.append("[[methods]]\n" + dump_toml({"name": m.name, **m.config.to_dict()}))
    return "\n".join(parts)
