"""``bellbox plot rate --adversary both``, ``plot finite``, ``plot runs`` and the ``--points`` limit.

Each figure is drawn at a few points: the PNG is checked by its signature, the ``--json`` data
against independent computations: the asymptotic rates by a brute-force grid over gamma and theta
(``scipy.special.rel_entr``, not the code under test), the finite keys against ``N`` times the
asymptotic rate and the ordering of the two adversary models (issue 11), the Protocol I runs
against the numbers of issue 10's independent review (n = 2,093 at eps = 0.1, cyclic shift, ideal
device; README: 14,146 at eps = 0.2; the paper chain certifies nothing for eps >= 7.6e-6).
No randomness.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.special import rel_entr

from protocols.cli import main
from protocols.cli.plot import MAX_POINTS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _run(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse usage errors
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _plot_json(argv, out, capsys) -> dict:
    status, stdout, _ = _run(["plot", *argv, "--out", str(out), "--json"], capsys)
    assert status == 0
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    return json.loads(stdout, parse_constant=_reject_non_finite)  # strict JSON: no NaN/Infinity


def _reject_non_finite(name: str):
    raise AssertionError(f"non-standard JSON constant {name}")


def _honest_w(m: int, xi: float) -> float:
    return (1.0 - xi) * math.sin(math.pi / (4 * m)) ** 2 + xi / 2.0


def _h(p: float) -> float:
    return 0.0 if p == 0.0 else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def _grid_rate(m: int, xi: float, quantum: bool) -> float:
    """Max over a gamma grid of the theta-grid minimum of the rate (paper 000 eq. 21 or the
    quantum rate of docs/quantum_chained_key.md), for the noisy EPR pair (eq. 26, lambda = xi/2)."""
    w, lam = _honest_w(m, xi), xi / 2.0
    theta = np.linspace(1e-7, 1.0 - 1e-7, 20_001)[None, :]
    gamma = np.linspace(0.5, 0.999, 300)[:, None]
    e, r = 2.0 * gamma**2 / m, (1.0 - gamma) ** 2
    divergence = (rel_entr(w, theta) + rel_entr(1.0 - w, 1.0 - theta)) / math.log(2.0)
    if quantum:
        values = e * divergence - r * np.log2(0.5 + m * theta)
        rates = values.min(axis=1) - r[:, 0] * _h(lam)
    else:
        values = 2.0 * e * divergence - 2.0 * r * np.log2(0.5 + m * theta)
        rates = values.min(axis=1) - r[:, 0] * (1.0 + _h(lam))
    return max(0.0, float(rates.max()))


def test_plot_rate_both_adversaries(tmp_path, capsys) -> None:
    payload = _plot_json(["rate", "--adversary", "both", "--settings", "7", "--points", "3",
                          "--max-noise", "0.06"], tmp_path / "rate.png", capsys)
    assert payload["noise"] == [0.0, 0.03, 0.06]
    no_signaling, quantum = payload["rates"]["7"], payload["quantum_rates"]["7"]
    for k, xi in enumerate(payload["noise"]):
        assert no_signaling[k] == pytest.approx(_grid_rate(7, xi, quantum=False), abs=2e-6)
        assert quantum[k] == pytest.approx(_grid_rate(7, xi, quantum=True), abs=2e-6)
        assert quantum[k] >= no_signaling[k]  # issue 11: never below the no-signalling key
    assert 0.0113 < quantum[0] < 0.0115  # issue 11: about 0.0114 bits per round at xi = 0, M = 7
    assert 0.027 < payload["noise_thresholds"]["7"] < 0.028
    assert payload["noise_thresholds"]["7"] < payload["quantum_noise_thresholds"]["7"] < 0.1
    assert set(payload["models"]) == {"no-signaling", "quantum"}


def test_plot_finite_both_models(tmp_path, capsys) -> None:
    from protocols.qkd.keyrate import asymptotic_rate
    from protocols.qkd.quantum_keyrate import asymptotic_quantum_rate

    payload = _plot_json(["finite", "--points", "3", "--min-rounds", "1e5", "--max-rounds", "1e7",
                          "--noise", "0,0.02"], tmp_path / "finite.png", capsys)
    rounds = payload["rounds"]
    assert rounds == [100_000, 1_000_000, 10_000_000] and payload["key_length_is_expectation"]
    lengths = payload["key_lengths"]
    rate = {"no-signaling": lambda xi: asymptotic_rate(settings=7, noise=xi).rate,
            "quantum": lambda xi: asymptotic_quantum_rate(settings=7, noise=xi).rate}
    for model, by_noise in lengths.items():
        assert by_noise["0.02"][-1] < by_noise["0"][-1]  # falls with noise
        for noise, bits in by_noise.items():
            assert bits == sorted(bits) and bits[-1] > 0  # grows with N
            assert all(b <= n * rate[model](float(noise)) for b, n in zip(bits, rounds))
    for noise in ("0", "0.02"):
        assert all(q >= c for q, c in zip(lengths["quantum"][noise], lengths["no-signaling"][noise]))


def test_plot_runs_three_chains_two_devices(tmp_path, capsys) -> None:
    payload = _plot_json(["runs", "--points", "2", "--min-eps", "0.1", "--max-eps", "0.2"],
                         tmp_path / "runs.png", capsys)
    assert payload["eps"] == [0.1, 0.2] and payload["output_bits"] == 64
    assert payload["error"] == 2.0**-40
    ideal, noisy = payload["required_runs"]["ideal"], payload["required_runs"]["noisy"]
    assert ideal["improved"] == [2093, 14146]
    assert ideal["paper"] == [None, None] and noisy["paper"] == [None, None]
    assert all(s <= c for s, c in zip(ideal["short-seed"], ideal["improved"]))
    for chain in ("improved", "short-seed"):  # noise costs runs (None: not certifiable at all)
        assert all(n is None or n > i for n, i in zip(noisy[chain], ideal[chain]))
    assert noisy["short-seed"][-1] is not None  # the short seed still certifies at eps = 0.2
    assert payload["delta"]["ideal"] == [0.0, 0.0] and min(payload["delta"]["noisy"]) > 0.0


@pytest.mark.parametrize("figure", sorted(MAX_POINTS))
@pytest.mark.parametrize("above", [False, True])
def test_points_limit_is_one_line_exit_2(tmp_path, capsys, figure, above) -> None:
    points = MAX_POINTS[figure] + 1 if above else 1
    out = tmp_path / "x.png"
    status, stdout, stderr = _run(["plot", figure, "--points", str(points), "--out", str(out)], capsys)
    assert status == 2 and stdout == ""
    assert stderr.count("\n") == 1 and f"[2, {MAX_POINTS[figure]}]" in stderr
    assert not out.exists()


def test_unwritable_out_is_refused_before_computing(tmp_path, capsys) -> None:
    status, _, stderr = _run(["plot", "runs", "--out", str(tmp_path / "missing" / "r.png")], capsys)
    assert status == 2 and stderr.count("\n") == 1 and "--out" in stderr
