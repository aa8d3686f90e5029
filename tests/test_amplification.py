"""Tests of the Protocol I certificate, planner and run (paper 004, Fig. 1, Theorem 20).

The extractor is a stand-in defined here (an error formula of the cyclic-shift type,
``2**(1 - (k_x + k_t - L - m)/2)`` for equal lengths ``L``), so these tests exercise the
certificate chain independently of :mod:`extractors`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from protocols.amplification.protocol1 import (STATUS_ABORTED, STATUS_CERTIFIED, STATUS_NOT_CERTIFIED,
                                     run_protocol1)
from protocols.amplification.certificate import (certify_protocol1, largest_certified_output,
                                                 plan_protocol1)
from protocols.bell.four_party import bell_test
from qdevices import FourPartyDevice, LocalFourPartyDevice
from qdevices.randomness import Randomness
from qdevices.sources import NAMED_STRATEGIES, named_source


class StandInExtractor:
    name = "stand-in"

    def t_length(self, x_length: int) -> int:
        return x_length

    def log2_error(self, x_length, x_entropy, t_length, t_entropy, output_bits) -> float:
        return 1 - (x_entropy + t_entropy - x_length - output_bits) / 2

    def extract(self, x: np.ndarray, t: np.ndarray, output_bits: int) -> np.ndarray:
        return np.array([np.bitwise_and(x, np.roll(t, i)).sum() & 1 for i in range(output_bits)],
                        dtype=np.uint8)


EXTRACTOR = StandInExtractor()


def test_certificate_numbers_by_hand() -> None:
    """n = 10^6, eps = 0, delta = 0, delta_Az = 0.01 (paper 004, eqs. (26), (90), (94))."""
    c = certify_protocol1(10**6, 0.0, 0.0, 8, EXTRACTOR, delta_az=0.01)
    assert c.log2_eps_az == pytest.approx(1 - 1e-4 * 1e6 / 4 / math.log(2))  # 2 exp(-25)
    assert c.bell_bound == pytest.approx(0.1)
    assert c.good_positions == 900_000                                     # n - floor(0.1 n)
    assert c.lemma10_bell_sum == pytest.approx(0.1 * 16)                   # / (1/2)^4
    # gamma lies between the mixture lower bound (1 + d)/3 and min(1, paper (1 + 2d)/3).
    assert (1 + 1.6) / 3 <= c.gamma <= min(1.0, (1 + 3.2) / 3)
    assert c.gamma_paper == 1.0  # the paper's Lemma 11 certifies nothing at d = 1.6
    assert c.log2_gamma_power == pytest.approx(900_000 * math.log2(c.gamma))
    delta1 = max(2 ** c.log2_eps_az, 2 ** c.log2_gamma_power) + 2 ** c.log2_eps_az
    assert c.log2_delta1 == pytest.approx(math.log2(delta1))
    assert c.log2_markov_term == pytest.approx(1 + c.log2_delta1 + c.x_min_entropy)
    total = 8 + math.log2(2 ** c.log2_extractor_error + 2 ** c.log2_markov_term)
    assert c.log2_error_bound == pytest.approx(total)


def test_more_runs_never_lower_output_and_larger_eps_never_raise_it() -> None:
    error = 2.0**-20
    outputs = [largest_certified_output(n, error, 0.0, 0.0, EXTRACTOR)[0]
               for n in (10**6, 2 * 10**6, 4 * 10**6, 8 * 10**6)]
    assert outputs == sorted(outputs) and outputs[-1] > 0
    by_eps = [largest_certified_output(4 * 10**6, error, eps, 0.0, EXTRACTOR)[0]
              for eps in (0.0, 1e-7, 1e-6, 1e-5, 0.01)]
    assert by_eps == sorted(by_eps, reverse=True) and by_eps[-1] == 0


def test_planner_reports_uncertifiable_requests_with_a_reason() -> None:
    plan = plan_protocol1(64, 2.0**-40, 0.01, 0.0, EXTRACTOR)
    assert plan.required_runs is None
    assert "extractor" in plan.reason and "not certifiable" in plan.reason
    too_noisy = plan_protocol1(1, 0.1, 0.0, 0.02, EXTRACTOR)  # 0.02 > 4 (1/2)^8
    assert too_noisy.required_runs is None and "Lemma 11" in too_noisy.reason


def test_ideal_device_never_violates_for_any_sv_strategy() -> None:
    device = FourPartyDevice(0.0, seed=11)
    for name in NAMED_STRATEGIES:
        settings = named_source(name, 0.3, Randomness(seed=12)).settings(20_000)
        assert bell_test(device.measure(settings), settings, 0.0).violations == 0, name


def test_local_devices_respect_the_sv_weighted_local_bound() -> None:
    """E[L_n] >= 2 (1/2 - eps)^4 for every deterministic strategy (Lemma 10 / eq. (39)).

    Tolerance: 5 binomial standard deviations at n = 4000 runs, seed 13.
    """
    eps, runs = 0.2, 4000
    floor = 2 * (0.5 - eps) ** 4
    tolerance = 5 * math.sqrt(0.25 / runs)
    for index, strategy in enumerate(LocalFourPartyDevice.all_strategies()):
        source = named_source("steer-untested", eps, Randomness(seed=13 + index))
        settings = source.settings(runs)
        outputs = LocalFourPartyDevice(strategy, seed=index).measure(settings)
        assert bell_test(outputs, settings, 0.0).bell_average >= floor - tolerance


def test_local_device_never_gets_bits() -> None:
    for strategy in LocalFourPartyDevice.all_strategies()[[0, 77, 255]]:
        result = run_protocol1(LocalFourPartyDevice(strategy, seed=1),
                               named_source("iid-high", 0.0, Randomness(seed=2)), 10**5,
                               delta=0.001, error=0.5, extractor=EXTRACTOR, output_bits=1,
                               certificate="paper")
        assert result.status == STATUS_ABORTED and result.output is None


def test_planned_runs_certify_with_the_ideal_device() -> None:
    plan = plan_protocol1(4, 1e-2, 0.0, 0.0, EXTRACTOR)
    assert plan.required_runs is not None and plan.required_runs < 3 * 10**6
    result = run_protocol1(FourPartyDevice(0.0, seed=3),
                           named_source("uniform", 0.0, Randomness(seed=4)),
                           plan.required_runs, delta=0.0, error=1e-2, extractor=EXTRACTOR,
                           output_bits=4, certificate="paper")
    assert result.status == STATUS_CERTIFIED and result.output.size == 4
    assert result.certificate.error_bound <= 1e-2
    short = run_protocol1(FourPartyDevice(0.0, seed=3),
                          named_source("uniform", 0.0, Randomness(seed=4)),
                          plan.required_runs // 2, delta=0.0, error=1e-2, extractor=EXTRACTOR,
                          output_bits=4, certificate="paper")
    assert short.status == STATUS_NOT_CERTIFIED and short.output is None
    assert short.required_runs == plan.required_runs


@pytest.mark.parametrize("kwargs, name", [
    ({"eps": 0.5}, "eps"), ({"eps": -0.1}, "eps"), ({"delta": -1e-3}, "delta"),
    ({"runs": 0}, "runs"), ({"output_bits": 0}, "output bits")])
def test_bad_input_names_the_parameter(kwargs: dict, name: str) -> None:
    arguments = {"runs": 1000, "eps": 0.1, "delta": 0.0, "output_bits": 1} | kwargs
    with pytest.raises(ValueError, match=name):
        certify_protocol1(arguments["runs"], arguments["eps"], arguments["delta"],
                          arguments["output_bits"], EXTRACTOR)


def test_cyclic_shift_certificate_plans_and_runs() -> None:
    from protocols.amplification.protocol1 import CyclicShiftExtractor

    extractor = CyclicShiftExtractor()
    plan = plan_protocol1(2, 0.05, 0.0, 0.0, extractor)
    assert plan.required_runs is not None
    certificate = plan.certificate
    # The L1 error is twice the Dodis et al. statistical distance 2^((m + L + 1 - k1 - k2)/2 - 1).
    expected = (2 + certificate.t_length + 1 - certificate.x_min_entropy
                - certificate.t_min_entropy) / 2
    assert certificate.log2_extractor_error == pytest.approx(expected)
    result = run_protocol1(FourPartyDevice(0.0, seed=5),
                           named_source("steer-untested", 0.0, Randomness(seed=6)),
                           plan.required_runs, delta=0.0, error=0.05, extractor=extractor,
                           output_bits=2, certificate="paper")
    assert result.status == STATUS_CERTIFIED and result.output.size == 2


def test_cli_amplify_exit_codes_and_json(capsys) -> None:
    import json

    from protocols.cli import main

    assert main(["amplify", "--sv-eps", "0.01", "--runs", "2000", "--seed", "1", "--bits", "8",
                 "--certificate", "paper", "--json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == STATUS_NOT_CERTIFIED and report["output_bits"] == 0
    assert report["bell_average"] == 0.0 and report["required_runs"] is None
    assert report["error_bound"] == 2.0
    assert main(["amplify", "--sv-eps", "0.1", "--runs", "2000", "--seed", "1", "--device",
                 "local", "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["status"] == STATUS_ABORTED
    assert main(["amplify", "--sv-eps", "0.5", "--runs", "10"]) == 2
    assert "eps" in capsys.readouterr().err
    assert main(["amplify", "--sv-eps", "0.1", "--runs", "10", "--delta", "-1"]) == 2
    assert "delta" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["amplify", "--sv-eps", "0.1", "--runs", "0"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["amplify", "--sv-eps", "0.1", "--runs", "10", "--blocks", "0"])


def test_tradeoff_of_eq_111(tmp_path) -> None:
    from protocols.amplification.certificate import lp_tradeoff_delta, paper_tradeoff_delta
    from protocols.cli import main

    assert paper_tradeoff_delta(0.0) == pytest.approx(2.0**-9)  # (1/2)^8 / 2
    for eps in (0.0, 0.1, 0.3):
        delta = paper_tradeoff_delta(eps)
        lhs = lambda d: (1 + 2 * math.sqrt(2 * d) / (0.5 - eps) ** 4) / 3  # noqa: E731
        assert lhs(0.999 * delta) < 1 <= lhs(1.001 * delta)
        # The LP bound (1 + d)/3 (never above eq. (42)) tolerates 4x the paper's delta.
        assert lp_tradeoff_delta(eps) == pytest.approx(4 * delta, rel=1e-5)
    out = tmp_path / "tradeoff.png"
    assert main(["plot", "tradeoff", "--out", str(out), "--points", "5"]) == 0
    assert out.stat().st_size > 0


def test_published_bell_count_is_paid_for_in_delta1() -> None:
    """The report publishes L_n; its floor(delta n) + 1 possible values multiply delta_1 (review finding)."""
    from protocols.amplification.protocol1 import CyclicShiftExtractor
    from protocols.amplification.certificate import certify_protocol1

    runs, delta = 100_000, 0.001
    certificate = certify_protocol1(runs, 0.0, delta, 8, CyclicShiftExtractor(), delta_az=0.05)
    assert certificate.log2_bell_count_values == math.log2(101)  # floor(0.001 * 1e5) + 1 = 101 values
    zero = certify_protocol1(runs, 0.0, 0.0, 8, CyclicShiftExtractor(), delta_az=0.05)
    assert zero.log2_bell_count_values == 0.0


def test_failure_reason_names_too_few_runs_or_too_large_delta() -> None:
    """With n = 2000 no delta_Az makes the Azuma term small (2 exp(-0.0156^2 2000/4) ~ 1.77);
    with delta = 0.02 > 4 (1/2)^8 = 0.0156 Lemma 10 alone rules certification out."""
    from protocols.amplification.protocol1 import CyclicShiftExtractor
    from protocols.amplification.certificate import certify_protocol1, failure_reason

    few = certify_protocol1(2000, 0.0, 0.0, 1, CyclicShiftExtractor())
    assert failure_reason(few, 2**-40).startswith("n = 2000 runs are too few")
    large = certify_protocol1(2000, 0.0, 0.02, 1, CyclicShiftExtractor())
    assert failure_reason(large, 2**-40).startswith("delta = 0.02 is too large")
