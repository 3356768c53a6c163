"""The adversarial table: bad input of every kind gets one line naming the culprit, and changes nothing.

Each case is data: an id, the command line, an optional ``setup`` that makes files in the case's
own working directory, and the text (the culprit) its one error line must contain. The harness
runs ``asyncsgd.cli.main.main(argv)`` in-process in an empty temporary directory holding a tiny
experiment (``tiny.toml``) and asserts: exit status 2, exactly one line on stderr (``asyncsgd:
error: ...``, naming the culprit), no exception escapes, no warning, and the directory is
byte-for-byte as it was (a failed run creates nothing, not even an empty run directory). A few
cases also run as real subprocesses, to prove the console path.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from asyncsgd.cli.main import main
from asyncsgd.sweep.db import ResultsDB

TINY = """name = "tiny"
engine = "sim"
dataset = "synthetic"
model = "mlp"
hidden = [16]
learners = 2
batch_size = 16
lr = 0.1
updates = 20

[[methods]]
name = "downpour"
"""
RUN = ["run", "tiny.toml", "--quiet", "--out", "out"]
ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


@dataclass(frozen=True)
class Case:
    id: str
    argv: list[str]
    culprit: str
    setup: Callable[[Path], object] | None = None
    skip: str = ""  # a reason this case cannot be judged here (e.g. permissions as root)


def run_with(*sets: str) -> list[str]:
    return [*RUN, *(a for s in sets for a in ("--set", s))]


NPZ_RUN = run_with("dataset=npz", "data_path=data.npz", "batch_size=4")


# -- settings: every numeric setting meets values no setting may take (benchmarks/bad_settings.py
# tries 0, -1, 2^63, 1e308, nan and ±inf on every one of them, each in a context where it matters) ------
# fmt: off
NUMERIC = [
    "learners", "seed", "threads", "data_seed", "batch_size", "vocab_size", "max_tokens", "embed_dim",
    "lr", "momentum", "ratio", "local_steps", "exchange_period", "local_momentum", "elastic_alpha",
    "dc_lambda", "dc_momentum", "ssp_bound",
    "adagrad_eps", "levels", "bucket", "clip", "threshold", "delay_mean", "delay_sigma", "slow_learners",
    "slow_factor", "staleness", "latency", "server_time", "shards", "learner_threads", "timeout",
    "ray_cpus_per_learner", "ray_gpus_per_learner", "ray_cpus_per_shard", "checkpoint_every", "epochs",
    "updates", "eval_every", "theory_f_low", "theory_points", "theory_steps", "theory_probe_lr",
    "theory_batches", "theory_hvp", "theory_samples",
]
UNBOUNDED_ABOVE = ["stale_bound", "bandwidth"]  # infinity means "no limit" for these two
HUGE = {"lr": "1e39", "theory_probe_lr": "1e39"}  # a rate may be huge (to diverge), not beyond float32
SETTINGS = [Case(f"set-{k}={v}", run_with(f"{k}={v}"), k)
            for k in NUMERIC for v in ("nan", "-1e308", HUGE.get(k, str(2**63)), "[1]")]
SETTINGS += [Case(f"set-{k}={v}", run_with(f"{k}={v}"), k) for k in UNBOUNDED_ABOVE for v in ("nan", "-1")]
SETTINGS += [Case(f"set-{k}={v}", run_with(f"{k}={v}"), culprit) for k, v, culprit in [
    ("hidden", f"[16, {2**63}]", "hidden"),
    ("hidden", "[16, -1]", "hidden"),
    ("hidden", "[1e308]", "hidden"),
    ("hidden", f"[{', '.join(['4'] * 65)}]", "hidden"),
    ("hidden", '["wide"]', "hidden"),
    ("lr", "fast", "lr"),
    ("lr", "true", "lr"),
    ("learners", "2.5", "learners"),
    ("learners", "true", "learners"),
    ("hogwild", "1", "hogwild"),
    ("codec", "[1]", "codec"),
    ("ray_cpus_per_learner", "0.00001", "ray_cpus_per_learner"),
    ("slow_learners", "3", "slow_learners"),
    ("updates", "0", "updates"),
    ("epochs", "1", "epochs"),
    ("learnres", "4", "learnres"),
    ("device", "gpu", "device"),
    ("remedy", "staleness_lr+", "remedy"),
    ("remedy", "+staleness_lr", "remedy"),
    ("remedy", "staleness_lr++drop_stale", "remedy"),
    ("remedy", "staleness_lr,,drop_stale", "remedy"),
    ("remedy", '""', "remedy"),
    ("remedy", "none+staleness_lr", "remedy"),
    ("remedy", "magic", "remedy"),
    ("remedy", "staleness_lr+magic", "remedy"),
    *[(key, value, key) for key, value in [
        ("engine", "mpi"), ("protocol", "gossip"), ("dataset", "imagenet"), ("model", "gpt"),
        ("rule", "lion"), ("codec", "zip"), ("partition", "random"), ("scope", "row"), ("algorithm", "magic"),
        ("delay", "weibull"), ("theory_rate", "best"), ("schedule", "gossip"),
    ]],
]]
SETTINGS += [
    Case("set-trace-nowhere", run_with("schedule=trace", "trace=nowhere"), "trace"),
    Case("set-trace-without-schedule", run_with("trace=nowhere"), "trace"),
]
# within range alone, too big for any machine together (counted before anything is allocated)
SETTINGS += [
    Case("size-hidden-1e12-parameters", run_with("hidden=[1000000, 1000000]"), "hidden"),
    Case("size-4096-learners-of-37M", run_with("learners=4096", "hidden=[1000000]"), "learners"),
    Case("size-4096-local-learner-processes", run_with("engine='local'", "learners=4096"), "learners"),
    Case("size-batch-above-train-set", run_with("batch_size=16777216"), "batch_size"),
]
SYNTAX = [
    Case("set-no-equals", [*RUN, "--set", "learners"], "learners"),
    Case("set-no-key", [*RUN, "--set", "=4"], "=4"),
    Case("set-empty-method", [*RUN, "--set", ".lr=0.1"], "no method named ''"),
    Case("set-unknown-method", [*RUN, "--set", "nosuch.lr=0.1"], "nosuch"),
    Case("set-method-bad-value", [*RUN, "--set", "downpour.ratio=0"], "ratio"),
    Case("methods-unknown", [*RUN, "--methods", "nosuch"], "--methods"),
    Case("methods-empty", [*RUN, "--methods", ""], "--methods"),
    Case("set-without-value", [*RUN, "--set"], "--set"),
    Case("unknown-option", [*RUN, "--bogus"], "--bogus"),
    Case("no-command", [], "command"),
    Case("unknown-command", ["fly"], "fly"),
    Case("sweep-without-file", ["sweep"], "sweep"),
    Case("workers-not-a-number", ["sweep", "s.toml", "--workers", "two"], "--workers"),
]
# fmt: on


# -- config files ----------------------------------------------------------------------------------
def write(name: str, content: str | bytes) -> Callable[[Path], object]:
    def make(cwd: Path) -> None:
        path = cwd / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return make


def mkdir(name: str) -> Callable[[Path], object]:
    return lambda cwd: (cwd / name).mkdir()


def symlink_loop(cwd: Path) -> None:
    (cwd / "loop.toml").symlink_to("loop.toml")


def unreadable(cwd: Path) -> None:
    write("secret.toml", TINY)(cwd)
    (cwd / "secret.toml").chmod(0)


def read_only_dir(cwd: Path) -> None:
    (cwd / "ro").mkdir()
    (cwd / "ro").chmod(0o555)


AS_ROOT = "root ignores permissions" if ROOT else ""
# fmt: off
CONFIGS = [Case(f"config-{name}", ["run", file, "--out", "out"], culprit, setup, skip)
           for name, file, culprit, setup, skip in [
    ("missing", "missing.toml", "missing.toml", None, ""),
    ("directory", "conf.d", "conf.d", mkdir("conf.d"), ""),
    ("not-utf8", "latin.toml", "latin.toml", write("latin.toml", b"name = '\xe9t\xe9'\n"), ""),
    ("binary", "blob.toml", "blob.toml", write("blob.toml", bytes(range(256))), ""),
    ("symlink-loop", "loop.toml", "loop.toml", symlink_loop, ""),
    ("unreadable", "secret.toml", "secret.toml", unreadable, AS_ROOT),
    ("endless-device", "/dev/zero", "/dev/zero", None, "" if Path("/dev/zero").exists() else "no /dev/zero"),
    ("bad-toml", "bad.toml", "bad.toml", write("bad.toml", "learners = ["), ""),
    ("nested-too-deep", "deep.toml", "deep.toml", write("deep.toml", "a = " + "[" * 5000 + "]" * 5000), ""),
    ("empty", "empty.toml", "updates", write("empty.toml", ""), ""),
    ("methods-not-array", "m.toml", "methods", write("m.toml", 'methods = "a"'), ""),
    ("methods-empty", "m.toml", "methods", write("m.toml", "methods = []"), ""),
    ("method-not-table", "m.toml", "methods[0]", write("m.toml", "methods = [1]"), ""),
    ("method-bad-name", "m.toml", "methods[0].name", write("m.toml", '[[methods]]\nname = "a/b"\n'), ""),
    ("method-dup-name", "m.toml", "methods[1].name", write("m.toml", '[[methods]]\nname = "a"\n' * 2), ""),
    ("unknown-key", "k.toml", "learnres", write("k.toml", TINY.replace("learners", "learnres")), ""),
    ("wrong-type", "k.toml", "learners", write("k.toml", TINY.replace("learners = 2", 'learners = "2"')), ""),
    ("table-value", "k.toml", "hidden", write("k.toml", TINY.replace("[16]", "{a = 1}")), ""),
    ("date-value", "k.toml", "lr", write("k.toml", TINY.replace("lr = 0.1", "lr = 2024-01-01")), ""),
]]

# -- --out -----------------------------------------------------------------------------------------
OUT = [Case(f"out-{name}", ["run", "tiny.toml", "--quiet", "--out", out, *extra], culprit, setup, skip)
       for name, out, extra, culprit, setup, skip in [
    ("is-a-file", "tiny.toml", [], "--out", None, ""),
    ("under-a-file", "tiny.toml/run", [], "--out", None, ""),
    ("deep-under-a-file", "tiny.toml/a/b/c", [], "--out", None, ""),
    ("not-empty", "full", [], "--out", write("full/x", "keep"), ""),
    ("read-only-fs-proc", "/proc/asyncsgd-run", [], "/proc/asyncsgd-run", None,
     "" if Path("/proc/self").exists() else "no /proc"),
    ("read-only-fs-sys", "/sys/asyncsgd-run/x", [], "/sys/asyncsgd-run", None,
     "" if Path("/sys/kernel").exists() else "no /sys"),
    ("unwritable-parent", "ro/run", [], "ro/run", read_only_dir, AS_ROOT),
    ("unwritable-empty", "ro", [], "ro", read_only_dir, AS_ROOT),
    ("name-too-long", "x" * 300, [], "--out", None, ""),
    ("nul-byte", "a\0b", [], "--out", None, ""),
    ("new-with-bad-setting", "new/deep/run", ["--set", "learners=0"], "learners", None, ""),
    ("new-with-bad-data", "new/run", ["--set", "dataset=npz", "--set", "data_path=no.npz"], "data_path",
     None, ""),
]]
OUT.append(Case("out-default-with-bad-data", ["run", "tiny.toml", "--set", "dataset=npz"], "data_path"))
# fmt: on


# -- npz data --------------------------------------------------------------------------------------
def npz(drop: str = "", **change: np.ndarray) -> Callable[[Path], object]:
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.normal(size=(64, 3)), "y_train": rng.integers(0, 2, 64),
              "x_test": rng.normal(size=(16, 3)), "y_test": rng.integers(0, 2, 16)}  # fmt: skip
    arrays.update(change)
    arrays.pop(drop, None)

    def make(cwd: Path) -> None:
        np.savez(cwd / "data.npz", **arrays)

    return make


def damaged(how: str) -> Callable[[Path], object]:
    def make(cwd: Path) -> None:
        npz()(cwd)
        data = bytearray((cwd / "data.npz").read_bytes())
        if how == "truncated":
            data = data[: len(data) // 2]
        else:  # a flipped byte inside x_train's data: the archive opens, the CRC fails
            with zipfile.ZipFile(cwd / "data.npz") as z:
                start = z.getinfo("x_train.npy").header_offset + 30 + len("x_train.npy") + 200
            data[start] ^= 0xFF
        (cwd / "data.npz").write_bytes(bytes(data))

    return make


def npy_file(cwd: Path) -> None:
    np.save(cwd / "data.npz", np.zeros((4, 3)))  # numpy adds .npy: write the intended name
    (cwd / "data.npz.npy").rename(cwd / "data.npz")


NAN_X = np.zeros((64, 3))
NAN_X[5, 1] = np.nan
# fmt: off
NPZ = [Case(f"npz-{name}", NPZ_RUN, culprit, setup) for name, culprit, setup in [
    ("missing", "data.npz", None),
    ("directory", "data.npz", mkdir("data.npz")),
    ("truncated", "data.npz", damaged("truncated")),
    ("bad-crc", "x_train", damaged("crc")),
    ("npy-not-npz", ".npy", npy_file),
    ("text-file", "data.npz", write("data.npz", "x_train = 1")),
    ("lacks-y-test", "y_test", npz(drop="y_test")),
    ("features-1d", "x_train", npz(x_train=np.zeros(64))),
    ("labels-2d", "y_train", npz(y_train=np.zeros((64, 1), dtype=int))),
    ("labels-negative", "y_train", npz(y_train=np.full(64, -1))),
    ("labels-out-of-range", "y_test", npz(y_test=np.full(16, 5), num_classes=np.array(2))),
    ("labels-huge", "y_train", npz(y_train=np.full(64, 10**12))),
    ("labels-fractional", "y_train", npz(y_train=np.full(64, 0.5))),
    ("labels-nan", "y_test", npz(y_test=np.full(16, np.nan))),
    ("labels-strings", "y_train", npz(y_train=np.array(["cat"] * 64))),
    ("features-nan", "x_train", npz(x_train=NAN_X)),
    ("features-inf", "x_test", npz(x_test=np.full((16, 3), np.inf))),
    ("features-beyond-float32", "x_test", npz(x_test=np.full((16, 3), 1e300))),
    ("features-complex", "x_train", npz(x_train=np.zeros((64, 3), dtype=complex))),
    ("features-strings", "x_train", npz(x_train=np.full((64, 3), "a"))),
    ("lengths-differ", "y_train", npz(y_train=np.zeros(63, dtype=int))),
    ("empty-test", "x_test", npz(x_test=np.zeros((0, 3)), y_test=np.zeros(0, dtype=int))),
    ("shapes-differ", "x_test", npz(x_test=np.zeros((16, 4)))),
    ("object-array", "object", npz(y_train=np.array([None] * 64, dtype=object))),
    ("num-classes-not-int", "num_classes", npz(num_classes=np.array([1.5, 2.0]))),
]]
# fmt: on

# -- other datasets read from user files ---------------------------------------------------------
TAB = b"Category\tText\nd\tstring\nclass\t\n"


def corpus(train: bytes) -> Callable[[Path], object]:
    """A 20news folder whose test file is sound and whose train file is ``train``."""

    def make(cwd: Path) -> None:
        write("c/20newsgroups-test.tab", TAB + b"a\tsome words\n")(cwd)
        write("c/20newsgroups-train.tab", train)(cwd)

    return make


# fmt: off
DATA = [Case(f"data-{name}", run_with(*sets), culprit, setup) for name, sets, culprit, setup in [
    ("cifar-dev-null", ["dataset=cifar10", "data_path=/dev/null"], "data_path", None),
    ("cifar-not-an-archive", ["dataset=cifar10", "data_path=tiny.toml"], "tiny.toml", None),
    ("20news-a-file", ["dataset=20news", "data_path=tiny.toml"], "data_path", None),
    ("20news-not-utf8", ["dataset=20news", "data_path=c"], "20newsgroups-train.tab", corpus(b"\xff\xfe")),
    ("20news-bad-line", ["dataset=20news", "data_path=c"], "20newsgroups-train.tab:4",
     corpus(TAB + b"no tab here\n")),
]]
# fmt: on


# -- other commands ------------------------------------------------------------------------------
def both(*setups: Callable[[Path], object]) -> Callable[[Path], None]:
    return lambda cwd: [setup(cwd) for setup in setups] and None


def triggered(cwd: Path) -> None:
    """A results database from elsewhere whose trigger would run its own SQL on every write."""
    ResultsDB(cwd / "t.db").close()
    conn = sqlite3.connect(cwd / "t.db")
    conn.execute("CREATE TRIGGER spy AFTER INSERT ON runs BEGIN DELETE FROM sweeps; END")
    conn.commit()
    conn.close()


# fmt: off
SWEEP = write("s.toml", "name = 'sw'\ndataset = 'synthetic'\nmodel = 'logreg'\nupdates = 10\n")
GRID = "name = 'sw'\ndataset = 'synthetic'\nupdates = 10\n[grid]\nlearners = "
THOUSAND = list(range(1, 1001))
OTHER = [Case(name, argv, culprit, setup) for name, argv, culprit, setup in [
    ("sweep-missing", ["sweep", "nope.toml", "--dry-run"], "nope.toml", None),
    ("sweep-directory", ["sweep", "d", "--dry-run"], "d", mkdir("d")),
    ("sweep-grid-not-list", ["sweep", "s.toml"], "grid.learners", write("s.toml", GRID + "4\n")),
    ("sweep-grid-empty", ["sweep", "s.toml"], "grid.learners", write("s.toml", GRID + "[]\n")),
    ("sweep-grid-bad-value", ["sweep", "s.toml"], "grid.learners", write("s.toml", GRID + "[2, 0]\n")),
    ("sweep-bad-name", ["sweep", "s.toml"], "name", write("s.toml", "name = '../x'\nupdates = 1\n")),
    ("sweep-workers-negative", ["sweep", "s.toml", "--workers", "-1"], "--workers", SWEEP),
    ("sweep-threads-zero", ["sweep", "s.toml", "--threads", "0"], "--threads", SWEEP),
    ("sweep-set-bad", ["sweep", "s.toml", "--set", "lr=-1"], "lr", SWEEP),
    ("sweep-set-remedy", ["sweep", "s.toml", "--set", "remedy=staleness_lr+"], "remedy", SWEEP),
    ("sweep-grid-explodes", ["sweep", "s.toml", "--dry-run"], "grid", write("s.toml", GRID + f"{THOUSAND}\n"
     f"seed = {THOUSAND}\ndata_seed = {THOUSAND}\n")),
    ("sweep-grid-explodes-per-method", ["sweep", "s.toml", "--dry-run"], "m.grid", write("s.toml",
     f"updates = 1\n[[methods]]\nname = 'm'\ngrid = {{ seed = {THOUSAND}, data_seed = {THOUSAND} }}\n")),
    ("sweep-db-under-a-file", ["sweep", "s.toml", "--db", "s.toml/r.db"], "s.toml/r.db", SWEEP),
    ("sweep-db-with-a-trigger", ["sweep", "s.toml", "--db", "t.db"], "trigger", both(SWEEP, triggered)),
    ("theory-ratio-p-zero", ["theory", "ratio", "--p", "0"], "--p", None),
    ("theory-ratio-alpha-nan", ["theory", "ratio", "--alpha", "nan"], "--alpha", None),
    ("theory-ratio-alpha-negative", ["theory", "ratio", "--alpha", "-1"], "--alpha", None),
    ("theory-ratio-plot-nowhere", ["theory", "ratio", "--plot", "no/dir/x.png"], "--plot", None),
    ("theory-bound-no-run", ["theory", "bound", "--run", "nowhere"], "--run", None),
    ("theory-bound-empty-dir", ["theory", "bound", "--run", "e"], "--run", mkdir("e")),
    ("theory-bound-summary-without-staleness", ["theory", "bound", "--run", "r"], "staleness",
     both(mkdir("r"), write("r/config.toml", "updates = 1\n"),
          write("r/summary.json", '{"methods": {"run": {"lr": 0.1, "updates": 1}}}'))),
    ("theory-lr-bad-setting", ["theory", "lr", "tiny.toml", "--set", "theory_batches=2"], "theory_batches",
     None),
    ("theory-lr-config-dir", ["theory", "lr", "e"], "e", mkdir("e")),
    ("theory-lr-methods-empty", ["theory", "lr", "tiny.toml", "--methods", ""], "--methods", None),
    ("theory-lr-npz-nan", ["theory", "lr", "tiny.toml", *NPZ_RUN[5:]], "x_train", npz(x_train=NAN_X)),
    ("reproduce-unknown-study", ["reproduce", "nosuch", "--dry-run"], "nosuch", None),
    ("reproduce-quick-and-full", ["reproduce", "cong2016", "--quick", "--full", "--dry-run"], "--full",
     None),
    ("reproduce-workers-negative", ["reproduce", "cong2016", "--workers", "-1", "--dry-run"], "--workers",
     None),
]]
# fmt: on

CASES = [*SETTINGS, *SYNTAX, *CONFIGS, *OUT, *NPZ, *DATA, *OTHER]
"""``run --resume`` cases (corrupt, truncated or foreign checkpoints, edited run directories) are the
table of tests/experiment/test_resume.py, checked the same way against a real interrupted run."""


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every path under ``root`` with its kind, mode and content hash."""
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            found[str(path.relative_to(root))] = ("link", st.st_mode, os.readlink(path))
        elif path.is_dir():
            found[str(path.relative_to(root))] = ("dir", st.st_mode, "")
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if st.st_mode & 0o444 else ""
            found[str(path.relative_to(root))] = ("file", st.st_mode, digest)
    return found


def prepare(case: Case, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[str, int, str]]:
    if case.skip:
        pytest.skip(case.skip)
    monkeypatch.chdir(cwd)
    (cwd / "tiny.toml").write_text(TINY)
    if case.setup is not None:
        case.setup(cwd)
    return snapshot(cwd)


def check_one_line(code: int, err: str, case: Case) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code}: {err}"
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"{len(lines)} lines: {err}"
    assert lines[0].startswith("asyncsgd: error: "), lines[0]
    assert case.culprit in lines[0], f"{case.culprit!r} not named in: {lines[0]}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_is_one_line_and_changes_nothing(case, tmp_path, monkeypatch, capsys):
    before = prepare(case, tmp_path, monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(case.argv)  # an exception escaping fails the test with its traceback
    err = capsys.readouterr().err
    check_one_line(code, err, case)
    assert not caught, [str(w.message) for w in caught]
    assert snapshot(tmp_path) == before


def test_the_table_is_large_and_its_ids_unique():
    ids = [c.id for c in CASES]
    assert len(ids) >= 100 and len(set(ids)) == len(ids)


CONSOLE = ("set-learners=nan", "npz-features-nan", "out-under-a-file")


def test_the_console_command_prints_the_same_one_line(tmp_path):
    """The installed entry point (a real process, sys.exit of main's status) for a few cases."""
    cases = {c.id: c for c in CASES}
    procs = []
    for name in CONSOLE:
        case, cwd = cases[name], tmp_path / name
        cwd.mkdir()
        (cwd / "tiny.toml").write_text(TINY)
        if case.setup is not None:
            case.setup(cwd)
        before = snapshot(cwd)
        cmd = [sys.executable, "-m", "asyncsgd.cli.main", *case.argv]
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append((case, cwd, before, proc))
    for case, cwd, before, proc in procs:
        _out, err = proc.communicate(timeout=120)
        check_one_line(proc.returncode, err, case)
        assert snapshot(cwd) == before
