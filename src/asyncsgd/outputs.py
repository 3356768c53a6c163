"""Writing results so that a failure (disk full, a file size limit) leaves no half-written file.

Each output goes to ``<name>.tmp`` beside its place and is renamed over it once complete: a reader
never sees part of a file, an earlier complete file survives a failed write, and the temporary
file is removed. The failure is one line naming the file (:class:`~asyncsgd.errors.OutputError`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from asyncsgd.errors import OutputError


@contextlib.contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """The temporary path to write ``path``'s content to; renamed over ``path`` on success."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        tmp.replace(path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, OutputError):
            raise OutputError(f"cannot write {path}: {err.strerror or err}") from None
        raise


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic`)."""
    with atomic(path) as tmp, tmp.open("w") as f:
        f.write(text)
