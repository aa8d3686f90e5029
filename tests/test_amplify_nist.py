"""examples/amplify_nist.py: certified Protocol I output through the SP 800-22-style tests.

The quick mode (2*10^4 bits, seed 7) runs as a script, writes a well-formed report, and its
certified output passes all three tests at alpha = 0.01 (a uniform stream fails at least one
with probability about 3%, so another seed may, rarely, fail). The same test functions reject
deliberately non-uniform streams (each a >= 10 sigma effect, so the verdict does not depend on
the stated seeds) and accept a uniform one (seed 3)."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from protocols.amplification.protocol1 import STATUS_CERTIFIED
from qdevices import FourPartyDevice, Randomness
from qdevices.sources import SVSource, named_source

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "amplify_nist.py"
ALPHA = 0.01
BITS_PER_RUN = 64
QUICK_BITS = 20_000


def _load_example():
    spec = importlib.util.spec_from_file_location("amplify_nist_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


example = _load_example()


def test_quick_mode_runs_and_its_report_is_well_formed(tmp_path) -> None:
    report_path = tmp_path / "report.json"
    completed = subprocess.run([sys.executable, str(EXAMPLE), "--quick", "--seed", "7", "--json",
                                str(report_path)], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    report = json.loads(report_path.read_text())

    certified = math.ceil(QUICK_BITS / BITS_PER_RUN)  # 313 blocks of 64 bits
    assert report["certified_runs"] == certified
    assert report["bits_tested"] == certified * BITS_PER_RUN >= QUICK_BITS
    assert report["protocol_runs"] == sum(report["status_counts"].values())
    assert report["status_counts"].get(STATUS_CERTIFIED) == certified
    assert report["device_runs"] == report["protocol_runs"] * report["runs_per_protocol_run"]
    assert report["runs_per_protocol_run"] <= 1_000  # issue 10: n <= 1,000 at eps = 0.01
    assert report["worst_log2_error_bound_per_run"] <= -40
    assert report["randomness"] == "seeded (not secure)"
    assert report["adversary_model"] == "no-signaling" and report["theorem"]
    assert "output" not in report["first_certified_run"]  # bits are never written to the report
    for rows in (report["tests"], report["raw_sv_control"]):
        assert len(rows) == 3
        for row in rows:
            assert 0.0 <= row["p_value"] <= 1.0 and row["passed"] == (row["p_value"] >= ALPHA)
    assert report["all_passed"] and all(row["passed"] for row in report["tests"])
    for row in report["tests"]:
        assert row["test"] in completed.stdout


def _iid(probability_of_one: float, n: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < probability_of_one).astype(np.uint8)


def _verdicts(bits: np.ndarray) -> dict[str, bool]:
    return {row["test"].split(" (")[0]: row["passed"] for row in example.nist_tests(bits)}


def test_the_tests_pass_a_uniform_stream() -> None:
    assert all(_verdicts(_iid(0.5, QUICK_BITS, seed=3)).values())


def test_the_tests_fail_a_biased_stream() -> None:
    """P(1) = 0.55: the monobit statistic is 0.1 n / sqrt(2 n) = 10 standard deviations off."""
    verdicts = _verdicts(_iid(0.55, QUICK_BITS, seed=4))
    assert not verdicts["frequency"] and not verdicts["block frequency"] and not verdicts["runs"]


def test_the_runs_test_fails_a_sticky_stream() -> None:
    """Each bit repeats the previous one with probability 0.6: about 0.4 n runs instead of
    0.5 n, 20 standard deviations (2 sqrt(2n) pi (1 - pi) = 100 at n = 2*10^4) off."""
    flips = _iid(0.4, QUICK_BITS, seed=5)
    assert not _verdicts((np.cumsum(flips) % 2).astype(np.uint8))["runs"]


def test_the_block_frequency_test_fails_alternately_biased_blocks() -> None:
    """Blocks of M bits alternately 1 with probability 0.4 and 0.6: balanced overall, but
    chi^2 = 4 M sum (pi_i - 1/2)^2 is about 4 M N 0.01 = 0.04 n = 800 against N = 98 blocks."""
    size = example.block_size(QUICK_BITS)
    probability = np.where((np.arange(QUICK_BITS) // size) % 2 == 0, 0.4, 0.6)
    bits = (np.random.default_rng(6).random(QUICK_BITS) < probability).astype(np.uint8)
    assert not _verdicts(bits)["block frequency"]


class _CountingSource(SVSource):
    """An SV source that records how many bits each draw takes."""

    def __init__(self, inner: SVSource) -> None:
        self.inner, self.eps, self.draws = inner, inner.eps, []

    @property
    def name(self) -> str:
        return self.inner.name

    def bits(self, count: int) -> np.ndarray:
        self.draws.append(count)
        return self.inner.bits(count)


def test_every_run_draws_fresh_settings_and_seed() -> None:
    """Three certified runs take 3 (4n + |t|) SV bits and 3n device runs: nothing is reused."""
    from protocols import api

    runs = api.plan_protocol1(BITS_PER_RUN, sv_eps=0.01).required_runs
    source = _CountingSource(named_source("iid-high", 0.01, Randomness(seed=8)))
    measured = []
    device = FourPartyDevice(0.0, seed=8)
    measure = device.measure
    device.measure = lambda settings: measured.append(len(settings)) or measure(settings)
    collection = example.collect_certified(device, source, runs, BITS_PER_RUN, 2.0**-40,
                                           3 * BITS_PER_RUN)
    t_length = collection.first_certified.certificate.t_length
    assert collection.status_counts == {STATUS_CERTIFIED: 3}
    assert sum(source.draws) == 3 * (4 * runs + t_length)
    assert sum(measured) == 3 * runs
    blocks = {block.tobytes() for block in collection.blocks}
    assert len(blocks) == 3 and collection.bits.size == 3 * BITS_PER_RUN


def test_bad_input_exits_2_with_one_line(capsys) -> None:
    assert example.main(["--eps", "0.7"]) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "--eps" in message and "0.7" in message
