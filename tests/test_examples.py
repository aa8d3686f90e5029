"""Every example runs in its quick mode, so examples cannot rot; the fake-backend example is
reproducible: two runs with the same seed give identical reports apart from timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str) -> str:
    completed = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_reproduce_figures(tmp_path) -> None:
    run_example("reproduce_figures.py", "--quick", "--out", str(tmp_path))
    for name in ("paper000_fig2.png", "paper004_fig6.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_recorded_data_gives_a_key_and_the_short_file_aborts_with_advice() -> None:
    assert "key:" in run_example("recorded_data.py", "--quick")
    out = run_example("recorded_data.py", str(EXAMPLES / "data" / "chained_M7_sample.csv"))
    assert "aborted" in out and "a key needs about N >=" in out


def test_amplify_adversarial_quick_reports_required_runs() -> None:
    out = run_example("amplify_adversarial.py", "--quick")
    assert "not certified" in out and "required runs:" in out


def _without_timings(report: dict) -> dict:
    """The report without what differs between identical seeded runs: timings, and the job ids
    the local Aer sampler draws at random (a job id names a job, not its data)."""
    kept = {k: v for k, v in report.items() if k != "timings"}
    if "device_run" in kept:
        kept["device_run"] = {k: v for k, v in kept["device_run"].items() if k != "job_ids"}
    return kept


def test_fake_backend_example_is_reproducible(tmp_path) -> None:
    pytest.importorskip("qiskit_ibm_runtime")
    reports = []
    for attempt in ("first", "second"):
        out_dir = tmp_path / attempt
        printed = run_example("fake_backend_qkd.py", "--quick", "--seed", "3", "--out", str(out_dir))
        assert "ideal" in printed and "fake" in printed
        reports.append({p.name: _without_timings(json.loads(p.read_text())) for p in sorted(out_dir.glob("*.json"))})
    assert len(reports[0]) == 2 and reports[0] == reports[1]


def test_ibm_example_without_account_exits_2_with_one_line(tmp_path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "QISKIT_IBM_TOKEN": ""}
    completed = subprocess.run([sys.executable, str(EXAMPLES / "ibm_hardware_qkd.py"), "--quick"],
                               capture_output=True, text=True, timeout=300, env=env)
    assert completed.returncode == 2
    assert completed.stderr.strip().count("\n") == 0 and "no IBM Quantum account" in completed.stderr


def test_amplify_fake_backend_quick_certifies() -> None:
    out = run_example("amplify_fake_backend.py", "--quick")
    assert "calibration (exact distribution)" in out and "status: certified" in out


def test_amplify_protocol2_quick_certifies() -> None:
    out = run_example("amplify_protocol2.py", "--quick")
    assert "plan (chain-rule)" in out and "status: certified" in out


def test_compare_adversaries_quick(tmp_path) -> None:
    """Ideal statistics equal eq. (7) of paper 000 (W-bar = sin^2(pi/4M), QBER 0, S = 2 sqrt 2), the
    quantum-adversary key is never below the no-signalling key, and every row names its model."""
    import math

    pytest.importorskip("qiskit_ibm_runtime")
    printed = run_example("compare_adversaries.py", "--quick", "--seed", "3", "--json", str(tmp_path / "c.json"))
    report = json.loads((tmp_path / "c.json").read_text())
    ideal = report["backends"][0]
    assert ideal["backend"] == "exact"
    for m, stats in ideal["statistics"].items():
        assert stats["bell_value"] == pytest.approx(math.sin(math.pi / (4 * int(m))) ** 2, abs=1e-9)
        assert stats["qber"] == pytest.approx(0.0, abs=1e-9)
    chsh = next(r for r in ideal["rows"] if r["protocol"] == "chsh")
    assert chsh["value"] == pytest.approx(2 * math.sqrt(2), abs=1e-9)
    for backend in report["backends"]:
        rows = {(r["label"], r["adversary_model"]): r for r in backend["rows"]}
        quantum, no_signaling = rows[("chained M=7", "quantum")], rows[("chained M=7", "no-signaling")]
        assert all(quantum["key_length"][n] >= no_signaling["key_length"][n] for n in quantum["key_length"])
        assert all(r["adversary_model"] == "quantum" for r in backend["rows"] if r["protocol"] == "chsh")
        run = backend["run"]
        assert run["adversary_model"] == "quantum" and run["randomness"] == "seeded (not secure)"
        assert run["rounds"] == 200_000 and run["settings"] == 7
    assert "fake_marrakesh" in json.dumps(report["backends"][1]["device"])
    assert "P000 Thm 9" in printed and "N_s^Q" in printed and "EAT" in printed
