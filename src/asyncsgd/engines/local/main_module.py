"""Refuse, before any process starts, what fresh learner processes cannot do with ``__main__``.

A learner process starts as a new interpreter (forkserver or spawn): it unpickles the job, so a
model class must be importable by name. A class defined in ``__main__`` is, only when ``__main__``
is a file the learner can re-run; from a notebook or ``python -c`` it is not, and every learner
would die while starting. Re-running a script runs its top level again in every learner, so a
script that trains outside ``if __name__ == "__main__":`` would train once per learner. Both are
one-line ConfigErrors instead.
"""

from __future__ import annotations

import ast
import pickle
import sys
import types
from typing import Any

from asyncsgd.errors import ConfigError


class _Sink:
    def write(self, data: bytes) -> int:
        return len(data)


class _MainFinder(pickle.Pickler):
    """Pickles to nowhere, noting every class or function the pickle would name in ``__main__``."""

    def __init__(self) -> None:
        super().__init__(_Sink(), protocol=5)
        self.found: list[str] = []

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type | types.FunctionType) and getattr(obj, "__module__", None) == "__main__":
            self.found.append(obj.__qualname__)
        return NotImplemented


def main_references(obj: Any) -> list[str]:
    """Names of the ``__main__`` classes and functions ``obj``'s pickle refers to."""
    finder = _MainFinder()
    try:
        finder.dump(obj)
    except (pickle.PicklingError, TypeError, AttributeError):
        return []  # not picklable at all: the engine's own start reports it
    return sorted(set(finder.found))


def _guarded_lines(source: str) -> list[tuple[int, int]]:
    """Line spans of the bodies of ``if __name__ == "__main__":`` blocks."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)):
            continue
        sides = [node.test.left, *node.test.comparators]
        names = {s.id for s in sides if isinstance(s, ast.Name)}
        values = {s.value for s in sides if isinstance(s, ast.Constant)}
        if names == {"__name__"} and values == {"__main__"} and node.body:
            spans.append((node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno))
    return spans


def unguarded_main_line() -> int | None:
    """The line of the main script's top level that led here, when it is outside a main guard
    (None when ``__main__`` is no file, or the call comes from elsewhere)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(getattr(main, "__spec__", None), "name", "")
    if main is None or path is None or spec == "__main__" or spec.endswith(".__main__"):
        return None  # a package's __main__ is not re-run by a learner
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            break
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            spans = _guarded_lines(f.read())
    except (OSError, SyntaxError, ValueError):
        return None
    line = frame.f_lineno
    return None if any(a <= line <= b for a, b in spans) else line


def check_main_module(model: Any) -> None:
    """A ConfigError, before any learner starts, when learners could not rebuild ``model`` or
    would re-run the main script's training."""
    main = sys.modules.get("__main__")
    names = main_references(model)
    if names and getattr(main, "__file__", None) is None:
        raise ConfigError(
            "engine",
            f"engine 'local' starts fresh learner processes, which cannot import {', '.join(names)} "
            "defined in __main__ (a notebook or python -c): move it into a .py file and import it "
            "from there, or use engine='sim'",
        )
    line = unguarded_main_line()
    if line is not None:
        script = getattr(main, "__file__", "the script")
        raise ConfigError(
            "engine",
            f"engine 'local' starts learner processes that re-run the top level of {script}; "
            f'move the code that trains (line {line}) under `if __name__ == "__main__":`',
        )
