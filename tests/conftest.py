"""Test-session set-up: bellbox's on-disk LP cache goes to pytest's cache directory
(``.pytest_cache`` of this checkout), never to the user's ``~/.cache``; a cache directory the
caller set in ``BELLBOX_CACHE_DIR`` is kept."""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config) -> None:
    cache = getattr(config, "cache", None)
    directory = cache.mkdir("bellbox") if cache is not None else tempfile.mkdtemp(prefix="bellbox-cache-")
    os.environ.setdefault("BELLBOX_CACHE_DIR", str(directory))
