"""Shared output helpers for CLI handlers: strict JSON on stdout.

Non-finite floats (NaN, +-inf) become ``null`` (:func:`protocols.files.strict_json`) and the
text is produced with ``allow_nan=False``, so every ``--json`` output parses as RFC 8259 JSON.
"""

from __future__ import annotations

from typing import Any

from protocols.files import dumps_json, strict_json

#: JSON-ready conversion of numpy values and containers (non-finite floats -> None).
to_jsonable = strict_json


def print_json(payload: dict[str, Any]) -> None:
    """Print one strict JSON object on stdout."""
    print(dumps_json(payload))
