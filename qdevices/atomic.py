"""Atomic file writes: temporary file in the target's directory, fsync, rename.

The one writer behind checkpoints (:mod:`qdevices.jobs`) and every bellbox output
(:mod:`protocols.files`). A reader sees the old file or the complete new one, never a partial
one: ``os.replace`` is atomic on POSIX file systems and replaces a symbolic link itself, never
its target.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable


def write_atomic_with(path: str | os.PathLike, write: Callable[[IO[bytes]], object], *, secret: bool = False) -> None:
    """Call ``write(handle)`` on a temporary file next to ``path``, fsync it, rename it over ``path``.

    ``secret``: the file keeps the mode 0600 that :func:`tempfile.mkstemp` gives it (an
    existing file's mode is not inherited, since ``os.replace`` installs the new inode);
    otherwise it gets the mode an ordinary ``open`` would give (0666 minus the umask).
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.")
    try:
        if not secret:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(descriptor, 0o666 & ~umask)
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
