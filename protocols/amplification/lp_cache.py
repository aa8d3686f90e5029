"""On-disk cache of the Lemma 11 LP values used by the paper-chain certificates, so that
``bellbox amplify --plan`` answers in seconds after the first plan (issue 10, item 6).

The certificates evaluate Lemma 11 (:func:`protocols.bell.four_party.lemma11_bound`, 10 HiGHS
LPs) only on the grid ``index * LP_GRID`` (:mod:`protocols.amplification.paper_device_terms`).
Each solved value (``ProbabilityBound.certified``, already including the LP safety margin) is
stored under its grid index in a JSON file whose name carries the SHA-256 of the source of
:mod:`protocols.bell.four_party`: any change to the LP, its margin or its tolerance starts a new
cache, so a stored value is always the one this code would compute. Values round-trip exactly
(JSON floats are printed with ``repr``). A missing, unreadable or malformed file is ignored and
the LP solved again; a cache directory that cannot be written only disables storing.

Location: ``$BELLBOX_CACHE_DIR``, else ``$XDG_CACHE_HOME/bellbox``, else ``~/.cache/bellbox``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
from functools import lru_cache
from pathlib import Path

from protocols.bell import four_party


def cache_directory() -> Path:
    """Where the cache file lives (module docstring)."""
    if os.environ.get("BELLBOX_CACHE_DIR"):
        return Path(os.environ["BELLBOX_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bellbox"


@lru_cache(maxsize=1)
def _lp_fingerprint() -> str:
    return hashlib.sha256(inspect.getsource(four_party).encode()).hexdigest()[:16]


def cache_file(grid: float) -> Path:
    """The cache file for grid step ``grid`` and the current LP code."""
    return cache_directory() / f"lemma11_certified_grid{int(round(1 / grid))}_{_lp_fingerprint()}.json"


def _load(path: Path) -> dict[int, float]:
    try:
        data = json.loads(path.read_text())
        return {int(k): float(v) for k, v in data["certified"].items()
                if math.isfinite(float(v)) and 0.0 <= float(v) <= 1.0}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _store(path: Path, values: dict[int, float]) -> None:
    from protocols.files import write_json_atomic

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {"lp_source_sha256_prefix": _lp_fingerprint(),
                                 "certified": {str(k): v for k, v in sorted(values.items())}})
    except OSError:
        pass


def certified_on_grid(index: int, grid: float) -> float:
    """Lemma 11's certified bound at Bell sum ``index * grid`` (``< 2``), from the cache or
    solved (and stored)."""
    path = cache_file(grid)
    values = _load(path)
    if index in values:
        return values[index]
    value = float(four_party.lemma11_bound(index * grid).certified)
    values = {**_load(path), index: value}  # re-read: another process may have added values
    _store(path, values)
    return value
