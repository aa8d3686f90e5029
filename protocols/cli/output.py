"""Shared output helpers for CLI handlers: JSON emission and terminal progress."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and nested containers into JSON-serialisable values."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def print_json(payload: dict[str, Any]) -> None:
    """Print one JSON object on stdout."""
    print(json.dumps(to_jsonable(payload), indent=2, sort_keys=False))
