"""Tests of ``bellbox rate`` and ``bellbox plot rate`` (in-process, through ``protocols.cli.main``).

Expected numbers are the paper's (paper 000 Sec. III C, Fig. 2): about 0.004 bits per round
at xi = 0 for the optimal M = 7, no key for M = 2, the M = 7 rate vanishing near xi = 2.7%.
"""

from __future__ import annotations

import json

import pytest

from protocols.cli import main


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse usage errors
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _run_json(argv: list[str], capsys) -> tuple[int, dict]:
    status, out, _ = _run(argv + ["--json"], capsys)
    return status, json.loads(out)


def test_rate_m7_zero_noise(capsys):
    status, payload = _run_json(["rate", "--settings", "7", "--noise", "0"], capsys)
    assert status == 0
    assert payload["settings"] == 7 and payload["noise"] == 0.0
    assert 0.0040 < payload["rate"] < 0.0043
    assert 0.85 < payload["gamma"] < 0.92


def test_rate_with_rounds_gives_expected_key_length(capsys):
    status, payload = _run_json(["rate", "--settings", "7", "--noise", "0.01", "--rounds", "1e6"], capsys)
    assert status == 0
    assert isinstance(payload["key_length"], int)
    assert 0 < payload["key_length"] < payload["rate"] * 1e6
    assert payload["key_length_is_expectation"] is True


def test_rate_too_few_rounds_says_what_would_suffice(capsys):
    status, payload = _run_json(["rate", "--settings", "7", "--noise", "0.01", "--rounds", "10000"], capsys)
    assert status == 3
    assert payload["key_length"] == 0
    needed = payload["rounds_for_key"]
    assert needed > 10_000
    status, check = _run_json(["rate", "--settings", "7", "--noise", "0.01", "--rounds", str(needed)], capsys)
    assert status == 0 and check["key_length"] >= 1


def test_rate_auto_settings_picks_m7(capsys):
    status, payload = _run_json(["rate", "--settings", "auto", "--noise", "0"], capsys)
    assert status == 0 and payload["settings"] == 7


def test_m2_has_no_key(capsys):
    status, payload = _run_json(["rate", "--settings", "2", "--noise", "0"], capsys)
    assert status == 3 and payload["rate"] == 0.0
    status, payload = _run_json(["rate", "--settings", "2", "--threshold"], capsys)
    assert status == 3 and payload["key_at_zero_noise"] is False


def test_threshold_m7(capsys):
    status, payload = _run_json(["rate", "--settings", "7", "--threshold"], capsys)
    assert status == 0
    assert 0.027 < payload["noise_threshold"] < 0.028


def test_human_output(capsys):
    status, out, _ = _run(["rate", "--settings", "7", "--noise", "0.01", "--rounds", "1e6"], capsys)
    assert status == 0
    assert "asymptotic rate" in out and "expected key length" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["rate", "--settings", "1", "--noise", "0"],
        ["rate", "--settings", "seven", "--noise", "0"],
        ["rate", "--settings", "7", "--noise", "1.5"],
        ["rate", "--settings", "7", "--noise", "-0.1"],
        ["rate", "--settings", "7", "--noise", "0", "--eps", "0"],
        ["rate", "--settings", "7", "--noise", "0", "--eps", "1"],
        ["rate", "--settings", "7", "--noise", "0", "--rounds", "0"],
        ["rate", "--settings", "7", "--noise", "0", "--gamma", "1"],
        ["rate", "--settings", "7"],
        ["rate", "--settings", "auto", "--threshold"],
        ["rate", "--settings", "7", "--threshold", "--noise", "0.01"],
        ["plot", "rate", "--settings", "1,7"],
        ["plot"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, capsys):
    status, out, err = _run(argv, capsys)
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1


def test_plot_rate_draws_figure_2(tmp_path, capsys):
    out = tmp_path / "fig2.png"
    status, payload = _run_json(
        ["plot", "rate", "--out", str(out), "--settings", "5,7", "--points", "7"], capsys
    )
    assert status == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rates = payload["rates"]
    assert 0.0040 < rates["7"][0] < 0.0043  # Fig. 2 at xi = 0
    assert rates["7"][0] > rates["5"][0]
    assert rates["7"][-1] == 0.0  # xi = 0.03 is past the threshold
    assert all(a >= b for a, b in zip(rates["7"], rates["7"][1:]))
    assert 0.027 < payload["noise_thresholds"]["7"] < 0.028
