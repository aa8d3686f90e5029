"""The README's ```python blocks run as written (so they cannot rot).

Each block is executed in a fresh namespace from the repository root; its own ``assert``
statements are the checks (e.g. the DI-QKD example asserts that Alice's and Bob's keys agree).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README.read_text(encoding="utf-8"), flags=re.M | re.S)


def test_readme_has_the_python_api_examples() -> None:
    code = "\n".join(BLOCKS)
    assert len(BLOCKS) >= 3
    for needed in ("protocols.run_diqkd", "protocols.plan_protocol1", "extractors.toeplitz_hash",
                   "extractors.extract_two_source"):
        assert needed in code, needed


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index: int) -> None:
    exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), {"__name__": "__readme__"})
