"""Calibration before Protocol I (issue 10, item 5), ``amplify --report``, the finished-checkpoint
rule (issue 9, item 6: device data are extracted once) and the on-disk LP cache (item 6 of
issue 10)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import stat

import numpy as np
import pytest
from scipy.stats import binom

from protocols.amplification import calibration
from protocols.amplification.calibration import (ALL_SETTINGS, calibrate, completeness_delta,
                                                  plan_from_calibration)
from protocols.cli import main
from qdevices import FourPartyDevice

ERROR = 2.0**-40


def brute_force_worst_sv(per_setting: np.ndarray, eps: float) -> float:
    """max over every vertex eps-SV law of u1..u4 (each bit's P(1) given the earlier bits is
    1/2 +- eps: 2^15 laws) of sum_u nu(u) b(u); rows of ``per_setting`` are u1 u2 u3 u4 in
    binary, u1 most significant (as ALL_SETTINGS)."""
    prefixes = [tuple(p) for k in range(4) for p in itertools.product((0, 1), repeat=k)]
    laws = np.arange(2 ** len(prefixes))[:, None] >> np.arange(len(prefixes)) & 1  # one row a law
    p_one = 0.5 + eps * (2 * laws - 1)
    weights = np.ones((laws.shape[0], 16))
    for row, u in enumerate(ALL_SETTINGS):
        for k in range(4):
            p = p_one[:, prefixes.index(tuple(u[:k]))]
            weights[:, row] *= p if u[k] else 1 - p
    assert np.allclose(weights.sum(axis=1), 1.0)
    return float((weights @ per_setting).max())


def test_exact_calibration_of_white_noise_and_worst_sv_law():
    """White noise xi: each of the 8 tested settings violates with probability xi/2, the others
    never (FourPartyDevice docstring); the worst SV law is checked against brute force."""
    xi, eps = 0.1, 0.05
    result = calibrate(FourPartyDevice(xi, seed=1), eps)
    weights = ALL_SETTINGS.sum(axis=1)
    expected = np.where((weights == 1) | (weights == 3), xi / 2, 0.0)
    np.testing.assert_allclose(result.per_setting_violation, expected, atol=1e-12)
    assert result.method == "exact distribution" and result.calibration_runs == 0
    assert result.uniform_bell_average == pytest.approx(xi / 4)
    rng = np.random.default_rng(7)
    for per_setting in (expected, rng.random(16)):
        got = calibration._worst_sv_average(per_setting, eps)
        assert got == pytest.approx(brute_force_worst_sv(per_setting, eps), abs=1e-12)


def test_chernoff_upper_bound_covers_the_binomial_tail():
    """The calibration's upper bound p_up for k successes in r runs: P(Bin(r, p_up) <= k) is at
    most exp(-log_inverse) (scipy's exact binomial CDF), and below p_up it is not guaranteed."""
    runs, log_inverse = 4000, math.log(16 / calibration.CALIBRATION_CONFIDENCE)
    for successes in (0, 10, 68, 400):
        upper = calibration._chernoff_upper(successes / runs, runs, log_inverse)
        assert upper > successes / runs
        assert binom.cdf(successes, runs, upper) <= math.exp(-log_inverse)


def test_separate_runs_calibration_bounds_the_true_value():
    """Shot-like path (the device's exact table hidden): seeded, 500 runs a setting; every
    per-setting upper bound is at least the exact value and the estimate is near it."""
    device = FourPartyDevice(0.2, seed=3)
    exact = calibrate(device, 0.0).per_setting_violation

    class Sampled:  # measure() only: forces the "separate runs" path
        def measure(self, settings):
            return device.measure(settings)

    measured = calibrate(Sampled(), 0.0, runs_per_setting=500)
    assert measured.method.startswith("separate runs") and measured.calibration_runs == 8000
    assert np.all(np.array(measured.per_setting_violation) >= np.array(exact))
    np.testing.assert_allclose(measured.per_setting_estimate, exact, atol=0.08)  # ~5 sigma


def test_plan_from_calibration_fixes_delta_before_the_runs():
    result = plan_from_calibration(calibrate(FourPartyDevice(0.02, seed=1), 0.01), 64, ERROR)
    beta = result.calibration.worst_sv_bell_average
    first = calibration.plan_protocol1_improved(64, ERROR, 0.01, beta).required_runs
    assert result.delta == completeness_delta(beta, first) > beta
    assert result.plan.required_runs >= first and result.plan.delta == result.delta
    assert result.plan.certificate.meets(ERROR)


def test_report_is_written_without_bits_and_with_their_fingerprint(tmp_path, capsys):
    out, report = tmp_path / "bits.txt", tmp_path / "report.json"
    argv = ["amplify", "--sv-eps", "0", "--runs", "400", "--seed", "1", "--error", "0.5",
            "--bits", "4", "--out", str(out), "--report", str(report)]
    assert main(argv) == 0
    data = json.loads(report.read_text())
    assert "bits" not in data and data["status"] == "certified"
    assert data["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert main(argv[:-4] + ["--out", str(out), "--report", str(out)]) == 2  # same file twice
    assert "name the same file" in capsys.readouterr().err


def test_a_finished_checkpoint_is_never_extracted_again(tmp_path, capsys):
    checkpoint = tmp_path / "run"
    argv = ["amplify", "--sv-eps", "0", "--runs", "400", "--error", "0.5", "--bits", "4",
            "--json", "--checkpoint", str(checkpoint)]
    assert main(argv) == 0  # OS randomness: a second extraction would give other bits
    first = json.loads(capsys.readouterr().out)
    stored = json.loads((checkpoint / "report.json").read_text())
    assert "bits" not in stored and stored["output_sha256"] == first["output_sha256"]
    assert main(["amplify", "--resume", str(checkpoint), "--out", str(tmp_path / "b")]) == 2
    assert "extracted only once" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
    assert main(["amplify", "--resume", str(checkpoint), "--json"]) == 3
    again = json.loads(capsys.readouterr().out)
    assert "bits" not in again and again["output_sha256"] == first["output_sha256"]
    assert again["extracted"].startswith("earlier")


def test_lp_cache_returns_the_solved_value(tmp_path, monkeypatch):
    from protocols.amplification import lp_cache
    from protocols.bell.four_party import lemma11_bound

    monkeypatch.setenv("BELLBOX_CACHE_DIR", str(tmp_path))
    grid = 2.0**-12
    solved = lp_cache.certified_on_grid(1000, grid)
    assert solved == lemma11_bound(1000 * grid).certified
    assert lp_cache.cache_file(grid).is_file()
    monkeypatch.setattr(lp_cache.four_party, "lemma11_bound", None)  # a second solve would fail
    assert lp_cache.certified_on_grid(1000, grid) == solved
    lp_cache.cache_file(grid).write_text("{not json")
    monkeypatch.undo()
    monkeypatch.setenv("BELLBOX_CACHE_DIR", str(tmp_path))
    assert lp_cache.certified_on_grid(1000, grid) == solved  # a broken file is solved again


def test_cli_calibrates_a_shot_backend_then_plans_and_certifies(capsys):
    """``--backend aer-shots`` without ``--delta``/``--runs``: separate calibration runs, then
    delta and n from the planner, then the run; the report says so."""
    assert main(["amplify", "--backend", "aer-shots", "--sv-eps", "0.01", "--bits", "16",
                 "--error", "1e-6", "--calibration-runs", "200", "--seed", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    c = report["calibration"]
    assert c["method"].startswith("separate runs") and c["calibration_runs"] == 16 * 200
    assert report["delta"] == c["delta"] and report["runs"] == c["planned_runs"]
    assert report["status"] == "certified" and report["output_bits"] == 16
    assert report["bell_average"] <= report["delta"]
    assert report["delta"] == completeness_delta(
        c["worst_sv_bell_average"],
        calibration.plan_protocol1_improved(16, 1e-6, 0.01, c["worst_sv_bell_average"]).required_runs)
