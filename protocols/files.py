"""Checked, atomic file output: the one writer for reports, figures and secret material.

:func:`check_output_path` is called on every output path *before* any device runs, so a run is
never lost to an output that cannot be written. :func:`write_atomic` writes through a temporary
file in the target's directory, ``fsync``s it and renames it over the target
(``os.replace``), so a reader sees either the old file or the complete new one, never a partial
one. A secret output (keys, random bits) is created with mode 0600 whatever mode an existing
file had, and a symbolic link at the target is refused rather than followed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from qdevices.atomic import write_atomic_with

from .errors import BellboxInputError


class OutputPathError(BellboxInputError):
    """An output path cannot be written; the message names the option and the path."""


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def check_output_path(path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike | None] = (),
                      secret: bool = False, option: str = "output") -> Path:
    """Check that ``path`` can be written as an output; return it as a :class:`Path`.

    Refused (:class:`OutputPathError`): an existing directory; a parent directory that does
    not exist, is not a directory or is not writable; a path equal to (or the same file as)
    any of ``inputs``; for ``secret`` outputs, a symbolic link.
    """
    path = Path(path)
    name = f"{option} {str(path)!r}"
    if path.is_symlink() and secret:
        raise OutputPathError(f"{name} is a symbolic link: secret outputs are never written through a link")
    if path.is_dir():
        raise OutputPathError(f"{name} is a directory, expected a file path")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputPathError(f"{name}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{name}: directory {str(parent)!r} is not writable")
    for source in inputs:
        if source is not None and _same_file(path, Path(source)):
            raise OutputPathError(f"{name} is also an input ({str(source)!r}): it would be overwritten")
    return path


def check_distinct_outputs(outputs: dict[str, str | os.PathLike | None]) -> None:
    """Refuse two options naming the same output file (``outputs``: option -> path or None)."""
    given = [(option, Path(p)) for option, p in outputs.items() if p is not None]
    for k, (option, path) in enumerate(given):
        for other, second in given[k + 1:]:
            if _same_file(path, second):
                raise OutputPathError(f"{option} and {other} name the same file {str(path)!r}")


def write_atomic(path: str | os.PathLike, data: bytes, *, secret: bool = False) -> None:
    """Write ``data`` to ``path`` atomically: temporary file in the same directory, fsync, rename.

    ``secret``: the file ends with mode 0600 (the temporary file is created 0600 by
    :func:`tempfile.mkstemp`, and ``os.replace`` installs that inode, so an existing file's
    mode is not inherited) and a symbolic link at ``path`` is refused. A non-secret file gets
    the mode an ordinary ``open`` would give (0666 minus the umask). ``os.replace`` replaces a
    link itself, never its target, so no link is ever followed.
    """
    path = Path(path)
    if secret and path.is_symlink():
        raise OutputPathError(f"{str(path)!r} is a symbolic link: secret outputs are never written through a link")
    write_atomic_with(path, lambda handle: handle.write(data), secret=secret)


def strict_json(value: Any) -> Any:
    """``value`` with numpy types converted and non-finite floats (NaN, +-inf) replaced by None,
    so that ``json.dumps(..., allow_nan=False)`` gives strict JSON (RFC 8259 has no NaN)."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict_json(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_json(value: Any) -> str:
    """Strict JSON text of ``value`` (see :func:`strict_json`), indented by 2."""
    return json.dumps(strict_json(value), indent=2, allow_nan=False)


def write_json_atomic(path: str | os.PathLike, value: Any) -> None:
    """Write ``value`` as strict JSON through :func:`write_atomic` (not secret)."""
    write_atomic(path, (dumps_json(value) + "\n").encode())
