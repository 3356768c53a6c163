"""The command line as a tool among others: --version, ``python -m asyncsgd``, a closed pipe, and
help and listings that answer at once (torch is never loaded for them)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from importlib import metadata

import pytest

import asyncsgd
from asyncsgd.cli.catalogue import LISTING, listing_module
from asyncsgd.cli.list_cmd import KINDS, live, registries
from asyncsgd.cli.main import main

CLI = [sys.executable, "-m", "asyncsgd"]
QUICK = (["--help"], ["run", "--help"], ["sweep", "--help"], ["report", "--help"], ["reproduce", "--help"],
         ["theory", "--help"], ["theory", "ratio", "--help"], ["list", "--help"], ["list"],
         ["list", "settings"], ["--version"])  # fmt: skip
"""Commands that answer from the parser or the generated listing alone."""


def test_version_flag_and_attribute(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"asyncsgd {asyncsgd.__version__}"
    assert asyncsgd.__version__ == metadata.version("asyncsgd")


def test_version_without_installed_metadata():
    probe = (
        "import importlib.metadata as m\n"
        "def missing(name):\n    raise m.PackageNotFoundError(name)\n"
        "m.version = missing\n"
        "import asyncsgd\nprint(asyncsgd.__version__)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0+unknown"


def test_python_dash_m_runs_the_command_line():
    done = subprocess.run([*CLI, "--version"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"asyncsgd {asyncsgd.__version__}"
    bad = subprocess.run([*CLI, "nosuchcommand"], capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_api_names_load_on_first_use():
    probe = (
        "import sys, asyncsgd\n"
        "assert 'torch' not in sys.modules, 'import asyncsgd loaded torch'\n"
        "assert {'train', 'compare', 'RunConfig', '__version__'} <= set(dir(asyncsgd))\n"
        "from asyncsgd import train\n"
        "from asyncsgd.experiment import train as defined\n"
        "assert train is defined and asyncsgd.train is defined\n"
        "try:\n    asyncsgd.nosuchname\nexcept AttributeError as err:\n    print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "has no attribute 'nosuchname'" in done.stdout


@pytest.mark.parametrize("args", [["list"], ["list", "settings"], ["list", "settings", "--markdown"]])
def test_a_closed_pipe_ends_quietly(args):
    """The reader is gone before anything is written (the end of ``| head -1``, made certain)."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([*CLI, *args], stdout=write, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write)
    assert done.stderr == ""
    assert done.returncode == 141  # 128 + SIGPIPE, as a shell reports it


def test_piped_into_head_prints_one_line_and_no_traceback():
    writer = subprocess.Popen([*CLI, "list", "settings"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-1"], stdin=writer.stdout, stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stderr is not None
    writer.stdout.close()  # head alone reads the pipe
    first, _ = head.communicate(timeout=60)
    assert first.startswith("engine ") and first.count("\n") == 1
    assert writer.wait(timeout=60) in (0, 141)
    assert writer.stderr.read() == b""


def test_help_and_list_load_no_torch():
    """Each quick command in a fresh interpreter: torch absent from ``sys.modules`` at the end."""
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['asyncsgd', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('asyncsgd', run_name='__main__')\n"
        "except SystemExit as stop:\n    code = stop.code\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    for args in QUICK:
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stderr)
        assert done.stderr.strip().splitlines()[-1] == "NO-TORCH", args
        assert done.stdout.strip(), args


def test_help_and_list_answer_within_a_second():
    """The median of five timings of ``--help``, ``run --help`` and ``list`` (torch alone takes
    seconds to load on a busy machine)."""
    for args in (["--help"], ["run", "--help"], ["list"]):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([*CLI, *args], capture_output=True, check=True)
            times.append(time.perf_counter() - start)
        assert statistics.median(times) < 1.0, (args, times, os.getloadavg())


def test_generated_listing_is_up_to_date():
    """``asyncsgd list`` in a fresh process prints the generated listing: it must be the registries'."""
    assert LISTING.read_text() == listing_module(), "run: python -m asyncsgd.cli.catalogue --write"
    assert tuple(registries()) == KINDS


def test_fresh_list_prints_what_the_registries_hold(capsys):
    for args in (["list"], ["list", "codecs"], ["list", "settings"]):
        done = subprocess.run([*CLI, *args], capture_output=True, text=True, check=True)
        assert main(args) == 0  # in this process torch is loaded: the registries themselves
        assert done.stdout == capsys.readouterr().out
    texts = live()
    assert all(texts[kind].startswith(f"{kind}:\n") for kind in KINDS)
