"""A minimal progress bar for long runs: drawn on stderr when it is a terminal, silent otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Callable progress counter: ``bar(k)`` records ``k`` more units done.

    Use as a context manager; nothing is drawn unless ``stream`` is a terminal (or
    ``force=True``), so scripts and CI logs stay clean.
    """

    def __init__(self, total: int, label: str, stream: TextIO | None = None, force: bool = False) -> None:
        self.total, self.label, self.done = max(int(total), 1), label, 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = force or self.stream.isatty()
        self._start = time.perf_counter()

    def __call__(self, units: int) -> None:
        self.done = min(self.total, self.done + int(units))
        if self.enabled:
            fraction = self.done / self.total
            filled = int(30 * fraction)
            elapsed = time.perf_counter() - self._start
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {100 * fraction:5.1f}% {elapsed:6.1f} s")
            self.stream.flush()

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
