"""Tests of Protocol II of paper 004 (Fig. 3, Theorem 27): certificate, planner, run, CLI, all
with the paper's chain (``certificate="paper"``; the improved chain, now the default, is tested
in tests/test_improved_protocol2.py).

With the paper's chain certification needs astronomically many blocks (Lemma 13's term falls only like
``N2**(log2(1/2 + eps)/2)``), so no run here is certified by the honest certificate; the
extraction path is exercised with a stand-in certificate (clearly marked), and the planner's
answers are checked by re-certifying at and below the planned sizes.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import protocols.amplification.protocol2 as p2
from protocols.amplification.protocol1 import STATUS_ABORTED, STATUS_CERTIFIED, STATUS_NOT_CERTIFIED
from protocols.amplification.protocol2 import (certify_protocol2, largest_certified_output2,
                                               log2_de_finetti, plan_protocol2, run_protocol2)
from qdevices import FourPartyDevice, LocalFourPartyDevice
from qdevices.randomness import Randomness
from qdevices.sources import named_source


def _l1(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.abs(p - q).sum())


def _product(joint: np.ndarray) -> np.ndarray:
    return np.outer(joint.sum(axis=1), joint.sum(axis=0))


def test_lemma13_constant_matches_theorem27_form() -> None:
    """eq. (50) with log|Sigma| = 4 equals Theorem 27's c sqrt(n) N^(log2(1/2 + eps)/2), c = sqrt(8 ln 2)."""
    for runs, blocks, eps in ((1000, 2**10, 0.0), (12345, 2**33, 0.1), (7, 1, 0.3)):
        by_hand = math.sqrt(8 * math.log(2)) * math.sqrt(runs) * blocks ** (math.log2(0.5 + eps) / 2)
        assert 2 ** log2_de_finetti(runs, blocks, eps) == pytest.approx(by_hand, rel=1e-12)
        assert log2_de_finetti(runs, blocks, eps) >= math.log2(by_hand) - 1e-12  # never rounded down


def test_lemma13_bound_on_small_distributions() -> None:
    """Lemma 13 by brute force: X1 one bit (n log|Sigma| = 1), N2 = 4 binary blocks, j chosen by
    2 SV bits (every j has probability <= (1/2 + eps)^2 = lambda). The adversary puts the largest
    allowed mass on the worst blocks; the average distance stays below sqrt(2 ln 2 lambda).
    Seed 21, 200 random joint distributions, plus the perfectly correlated one."""
    rng = np.random.default_rng(21)
    eps = 0.2
    lam = (0.5 + eps) ** 2

    def block_distances(p: np.ndarray) -> np.ndarray:  # p has shape (2,) * 5: X1, X2_1..X2_4
        out = []
        for j in range(4):
            marginal = p.sum(axis=tuple(range(j + 2, 5)))  # X1, X2_1..X2_j (0-based j)
            total = 0.0
            for prefix in np.ndindex(*(2,) * j):
                joint = marginal[(slice(None),) + prefix + (slice(None),)]
                mass = joint.sum()
                if mass > 0:
                    total += mass * _l1(joint / mass, _product(joint / mass))
            out.append(total)
        return np.array(out)

    def worst_average(distances: np.ndarray) -> float:
        weights, left = np.zeros(4), 1.0
        for index in np.argsort(distances)[::-1]:
            weights[index] = min(lam, left)
            left -= weights[index]
        return float(weights @ distances)

    bound = math.sqrt(2 * math.log(2) * lam * 1)
    correlated = np.zeros((2,) * 5)
    correlated[0, 0, 0, 0, 0] = correlated[1, 1, 1, 1, 1] = 0.5
    assert block_distances(correlated).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert worst_average(block_distances(correlated)) == pytest.approx(lam) and lam <= bound
    for _ in range(200):
        p = rng.dirichlet(np.full(32, 0.3)).reshape((2,) * 5)
        assert worst_average(block_distances(p)) <= bound


def test_conditioning_on_product_acceptance_replaces_prop26() -> None:
    """Step 3 of the module docstring: for product acceptance sets A_c (published counts c),
    sum_{M,c} q(M, A_c) ||P_c - Q_c||_1 <= 2 sum_M q(M) ||P_M - Q_M||_1, from the per-set
    ||P_c - Q_c||_1 <= 2 ||P_A - Q_A||_1 / P(A) (Q_c the product of the conditional marginals).
    Seed 22, 300 random boxes with 3 values of M and 6 x 6 outcomes."""
    rng = np.random.default_rng(22)
    for _ in range(300):
        q_m = rng.dirichlet(np.ones(3))
        left, right = 0.0, 0.0
        for m in range(3):
            joint = rng.dirichlet(np.full(36, 0.5)).reshape(6, 6)
            if rng.random() < 0.5:  # make some boxes nearly product
                joint = 0.9 * _product(joint) + 0.1 * joint
            product = _product(joint)
            distance = _l1(joint, product)
            right += 2 * q_m[m] * distance
            x_class = rng.integers(-1, 2, size=6)  # -1: rejected, else the published count
            y_class = rng.integers(-1, 2, size=6)
            for c1 in (0, 1):
                for c2 in (0, 1):
                    mask = np.outer(x_class == c1, y_class == c2)
                    accepted = joint[mask].sum()
                    if accepted <= 1e-12:
                        continue
                    p_c = np.where(mask, joint, 0) / accepted
                    x_part = np.where(x_class == c1, joint.sum(axis=1), 0)
                    y_part = np.where(y_class == c2, joint.sum(axis=0), 0)
                    q_c = np.outer(x_part / x_part.sum(), y_part / y_part.sum())
                    left += q_m[m] * accepted * _l1(p_c, q_c)
                    one = _l1(p_c, q_c)
                    assert one <= 2 * _l1(np.where(mask, joint, 0), np.where(mask, product, 0)) \
                        / accepted + 1e-12
        assert left <= right + 1e-12


def _is_cyclic_length(p: int) -> bool:
    if p < 3 or any(p % d == 0 for d in range(2, math.isqrt(p) + 1)):
        return False
    factors = {d for d in range(2, p) if (p - 1) % d == 0 and all(d % e for e in range(2, d))}
    return all(pow(2, (p - 1) // f, p) != 1 for f in factors)


def test_certificate_numbers_by_hand() -> None:
    """n = 10^5, N2 = 2^20, eps = 0, delta = 0, delta_Az = 0.01, m = 1 (eqs. (26), (50), (181))."""
    runs, blocks = 10**5, 2**20
    c = certify_protocol2(runs, blocks, 0.0, 0.0, 1, delta_az=0.01)
    assert c.log2_eps_az == pytest.approx(1 - 1e-4 * runs / 4 / math.log(2))  # 2 exp(-2.5)
    assert c.good_positions == 90_000  # n - floor(sqrt(0.01) n)
    assert c.block_index_bits == 20 and c.log2_block_probability == -20.0
    assert c.log2_de_finetti == pytest.approx(0.5 * math.log2(8 * math.log(2) * runs * 2.0**-20))
    length = c.t_length
    assert length >= 8 * runs and _is_cyclic_length(length)
    assert all(not _is_cyclic_length(n) for n in range(8 * runs, length))
    assert c.t_min_entropy == length  # eps = 0: every SV bit is uniform
    k = c.device_min_entropy
    # Dodis et al.: statistical distance 2^((m + L + 1 - k_t - 2k)/2 - 1); L1 is twice it.
    assert c.log2_extractor_error == pytest.approx((1 + length + 1 - length - 2 * k) / 2)
    assert c.log2_markov_term == pytest.approx(2 + c.log2_delta1 + k)  # 4 * 2^k * delta_1
    total = 1 + math.log2(2**c.log2_extractor_error + 2**c.log2_markov_term
                          + 2 * 2**c.log2_de_finetti)
    assert c.log2_error_bound == pytest.approx(total)


def test_extractor_error_agrees_with_the_extractors_package() -> None:
    """The certificate's extractor error, recomputed by extractors.three_source's own calculator."""
    from extractors.three_source import three_source_parameters

    c = certify_protocol2(10**6, 2**40, 0.0, 0.0, 3)
    plan = three_source_parameters(c.t_length, c.t_min_entropy, 4 * 10**6, c.device_min_entropy,
                                   4 * 10**6, c.device_min_entropy, error=0.5, output_length=3)
    assert plan.two_source.input_length == c.t_length
    assert 1 + plan.log2_error == pytest.approx(c.log2_extractor_error, abs=1e-9)


def test_certified_output_is_monotone_where_the_theorem_says_so() -> None:
    error = 2.0**-20
    by_blocks = [largest_certified_output2(10**6, 2**b, error, 0.0, 0.0)[0] for b in (70, 80, 90, 100)]
    assert by_blocks == sorted(by_blocks) and by_blocks[0] > 0
    # n -> 2n with N2 -> 4 N2 keeps n (1/2)^log2(N2) non-increasing: output never drops.
    scaled = [largest_certified_output2(n, 2**b, error, 0.0, 0.0)[0]
              for n, b in ((10**6, 90), (2 * 10**6, 92), (4 * 10**6, 94), (8 * 10**6, 96))]
    assert scaled == sorted(scaled)
    by_eps = [largest_certified_output2(4 * 10**6, 2**80, error, eps, 0.0)[0]
              for eps in (0.0, 1e-7, 1e-6, 1e-5, 0.01)]
    assert by_eps == sorted(by_eps, reverse=True) and by_eps[0] > 0 and by_eps[-1] == 0


def test_more_runs_at_fixed_blocks_can_lower_the_output() -> None:
    """Lemma 13's term grows like sqrt(n) (I(X1 : X2) <= 4n bits): at fixed N2 more runs can
    certify fewer bits, a property of Theorem 27's bound, not of the optimiser."""
    error = 2.0**-20
    few = largest_certified_output2(10**6, 2**80, error, 0.0, 0.0)
    many = largest_certified_output2(10**9, 2**80, error, 0.0, 0.0)
    assert many[0] < few[0]
    assert many[1].log2_de_finetti - few[1].log2_de_finetti == pytest.approx(0.5 * math.log2(1000))


def test_planner_reports_impossible_eps_with_the_reason() -> None:
    """eps = 0.01: Azuma certifies at most delta_Az^2 log2(e)/4 <= (4 (1/2 - eps)^8)^2 log2(e)/4
    bits per run and device, while t loses log2(1 + 2 eps) per bit over L >= 8n bits, so
    2k < L log2(1 + 2 eps) at every n: no number of runs or blocks helps."""
    eps = 0.01
    per_run = (4 * (0.5 - eps) ** 8) ** 2 * math.log2(math.e) / 4
    assert 2 * per_run < 8 * math.log2(1 + 2 * eps)
    plan = plan_protocol2(64, 2.0**-40, eps, 0.0)
    assert plan.required_runs is None and plan.required_blocks is None
    assert "not certifiable" in plan.reason and "log2(1 + 2 eps)" in plan.reason


def test_plan_is_certified_and_minimal_in_blocks() -> None:
    error = 0.05
    plan = plan_protocol2(1, error, 0.0, 0.0)
    runs, blocks = plan.required_runs, plan.required_blocks
    assert runs is not None and blocks is not None
    assert certify_protocol2(runs, blocks, 0.0, 0.0, 1).meets(error)
    assert not certify_protocol2(runs, blocks // 2, 0.0, 0.0, 1).meets(error)
    assert plan.total_runs == runs * (1 + blocks)
    # smallest_runs: with the de Finetti term negligible (N2 = 2^4000) it certifies, 0.1% fewer do not.
    assert certify_protocol2(plan.smallest_runs, 2**4000, 0.0, 0.0, 1).meets(error)
    assert not certify_protocol2(int(plan.smallest_runs * 0.999), 2**4000, 0.0, 0.0, 1).meets(error)


def test_ideal_devices_never_violate_and_run_reports_the_plan() -> None:
    for name in ("steer-untested", "steer-repeat"):
        result = run_protocol2(FourPartyDevice(0.0, seed=31), FourPartyDevice(0.0, seed=32),
                               named_source(name, 0.3, Randomness(seed=33)), 2000, 8,
                               delta=0.0, error=0.05, output_bits=1, certificate="paper")
        assert result.to_dict()["bell_average"] == [0.0, 0.0]
        assert result.status == STATUS_NOT_CERTIFIED and result.output is None
        assert 0 <= result.block < 8
    result = run_protocol2(FourPartyDevice(0.0, seed=31), FourPartyDevice(0.0, seed=32),
                           named_source("uniform", 0.0, Randomness(seed=34)), 2000, 8,
                           delta=0.0, error=0.05, output_bits=1, chunk_runs=999,
                           certificate="paper")
    plan = plan_protocol2(1, 0.05, 0.0, 0.0)
    assert result.status == STATUS_NOT_CERTIFIED
    assert (result.required_runs, result.required_blocks) == (plan.required_runs,
                                                             plan.required_blocks)


@pytest.mark.parametrize("chain", ["paper", "improved"])
@pytest.mark.parametrize("strategy_index", [0, 77, 255])
def test_local_devices_never_yield_bits(strategy_index: int, chain: str) -> None:
    strategy = LocalFourPartyDevice.all_strategies()[strategy_index]
    source = named_source("iid-high", 0.1, Randomness(seed=40 + strategy_index))
    both_local = run_protocol2(LocalFourPartyDevice(strategy, seed=1),
                               LocalFourPartyDevice(strategy, seed=2), source, 3000, 4,
                               delta=0.001, error=0.5, output_bits=1, certificate=chain)
    assert both_local.status == STATUS_ABORTED and both_local.output is None
    second_local = run_protocol2(FourPartyDevice(0.0, seed=3), LocalFourPartyDevice(strategy),
                                 named_source("iid-high", 0.1, Randomness(seed=5)), 3000, 4,
                                 delta=0.001, error=0.5, output_bits=1, certificate=chain)
    assert second_local.status == STATUS_ABORTED and "block" in second_local.reason
    assert second_local.first_test.accepted and not second_local.block_test.accepted


class _OneBadBlockDevice:
    """Ideal four-party device except in block ``bad_block`` of ``runs`` runs, where it answers
    with a local deterministic strategy (violating the inequality)."""

    def __init__(self, runs: int, bad_block: int) -> None:
        self.runs, self.bad_block, self.position = runs, bad_block, 0
        self.ideal = FourPartyDevice(0.0, seed=61)
        self.local = LocalFourPartyDevice(LocalFourPartyDevice.all_strategies()[0])

    def measure(self, settings: np.ndarray) -> np.ndarray:
        blocks = (self.position + np.arange(len(settings))) // self.runs
        self.position += len(settings)
        outputs = self.ideal.measure(settings)
        bad = blocks == self.bad_block
        outputs[bad] = self.local.measure(settings[bad])
        return outputs


def test_only_the_chosen_block_is_tested() -> None:
    """The chosen block is replayed from the seeded SV stream (u, v, then 3 bits, MSB first);
    a violating block aborts the run only when it is the chosen one. Seed 62, chunks of 700 runs."""
    runs, blocks = 400, 8
    replay = named_source("iid-low", 0.2, Randomness(seed=62))
    replay.settings(runs + runs * blocks)
    index = replay.bits(3)
    chosen = 4 * int(index[0]) + 2 * int(index[1]) + int(index[2])
    for bad_block in (chosen, (chosen + 3) % blocks):
        result = run_protocol2(FourPartyDevice(0.0, seed=63), _OneBadBlockDevice(runs, bad_block),
                               named_source("iid-low", 0.2, Randomness(seed=62)), runs, blocks,
                               delta=0.01, error=0.5, output_bits=1, chunk_runs=700,
                               certificate="paper")
        assert result.block == chosen
        assert result.block_test.accepted == (bad_block != chosen)
        assert result.status == (STATUS_ABORTED if bad_block == chosen else STATUS_NOT_CERTIFIED)


def _stand_in_certificate(runs: int, blocks: int, bits: int):
    """A real certificate with its entropy claims and bound replaced (NOT a security claim):
    lets the extraction path run at a size where the honest certificate cannot certify."""
    real = certify_protocol2(runs, blocks, 0.0, 0.0, bits)
    return dataclasses.replace(real, device_min_entropy=4 * runs, x_min_entropy=8 * runs,
                               log2_extractor_error=-60.0, log2_error_bound=-50.0)


def test_certified_path_extracts_from_the_chosen_block(monkeypatch) -> None:
    """Reference computed here: SV stream order u, v_1..v_N2, j (log2 N2 bits, MSB first), t;
    output z_i = XOR_k t_k w_{(k + i) mod L}, w = x || y_j zero-padded (Dodis et al.)."""
    runs, blocks, bits = 500, 8, 8
    monkeypatch.setattr(p2, "certify_protocol2",
                        lambda *args, **kwargs: _stand_in_certificate(runs, blocks, bits))
    result = run_protocol2(FourPartyDevice(0.0, seed=51), FourPartyDevice(0.0, seed=52),
                           named_source("sticky", 0.1, Randomness(seed=56)), runs, blocks,
                           delta=0.0, error=1e-3, output_bits=bits, certificate="paper")
    assert result.status == STATUS_CERTIFIED and result.output.size == bits
    source = named_source("sticky", 0.1, Randomness(seed=56))
    x = FourPartyDevice(0.0, seed=51).measure(source.settings(runs)).reshape(-1)
    y_all = FourPartyDevice(0.0, seed=52).measure(source.settings(runs * blocks))
    index = source.bits(3)
    assert index.tolist() != index[::-1].tolist()  # the bit order matters for this seed
    block = 4 * int(index[0]) + 2 * int(index[1]) + int(index[2])
    assert result.block == block
    t = source.bits(result.certificate.t_length)
    w = np.zeros(t.size, dtype=np.uint8)
    w[:8 * runs] = np.concatenate([x, y_all[block * runs:(block + 1) * runs].reshape(-1)])
    expected = [int(np.dot(t, np.roll(w, -i)) % 2) for i in range(bits)]
    assert result.output.tolist() == expected


@pytest.mark.parametrize("kwargs, name", [
    ({"blocks": 0}, "blocks"), ({"blocks": 6}, "blocks"), ({"runs": 0}, "runs"),
    ({"eps": 0.5}, "eps"), ({"delta": -1.0}, "delta"), ({"output_bits": 0}, "output bits")])
def test_bad_input_names_the_parameter(kwargs: dict, name: str) -> None:
    arguments = {"runs": 100, "blocks": 4, "eps": 0.0, "delta": 0.0, "output_bits": 1} | kwargs
    with pytest.raises(ValueError, match=name):
        certify_protocol2(arguments["runs"], arguments["blocks"], arguments["eps"],
                          arguments["delta"], arguments["output_bits"])


def test_cli_protocol2(capsys, monkeypatch, tmp_path) -> None:
    from protocols.cli import main

    common = ["amplify", "--protocol", "2", "--sv-eps", "0.0", "--runs", "1000", "--seed", "1",
              "--certificate", "paper"]
    assert main(common + ["--blocks", "4", "--bits", "1", "--error", "0.05", "--json"]) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == STATUS_NOT_CERTIFIED and report["output_bits"] == 0
    assert report["bell_average"] == [0.0, 0.0] and report["error_bound"] == 2.0
    plan = plan_protocol2(1, 0.05, 0.0, 0.0)
    assert (report["required_runs"], report["required_blocks"]) == (plan.required_runs,
                                                                   plan.required_blocks)
    assert main(common + ["--blocks", "4", "--plan", "--json"]) == 3
    planned = json.loads(capsys.readouterr().out)
    assert planned["mode"] == "plan" and "required_blocks" in planned
    assert main(common + ["--blocks", "3"]) == 2
    assert "blocks" in capsys.readouterr().err
    assert main(common) == 2
    assert "--blocks" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(common + ["--blocks", "0"])
    assert exit_info.value.code == 2
    monkeypatch.setattr(p2, "certify_protocol2",
                        lambda *args, **kwargs: _stand_in_certificate(1000, 4, 4))
    out = tmp_path / "bits.txt"
    assert main(common + ["--blocks", "4", "--bits", "4", "--out", str(out)]) == 0
    assert len(out.read_text().strip()) == 4 and (out.stat().st_mode & 0o777) == 0o600


def test_largest_certifiable_eps_matches_the_hand_derivation() -> None:
    """Per device k <= n delta_Az^2 log2(e)/4 with delta_Az < 4 (1/2 - eps)^8 (delta = 0), and the
    extractor needs 2k > 8n log2(1 + 2 eps): certifiable for large n iff
    log2(1 + 2 eps) < (4 (1/2 - eps)^8)^2 log2(e) / 16, i.e. eps < eps* ~ 7.6e-6 (bisection here)."""
    low, high = 0.0, 1e-4
    for _ in range(40):
        middle = (low + high) / 2
        margin = (4 * (0.5 - middle) ** 8) ** 2 * math.log2(math.e) / 16 - math.log2(1 + 2 * middle)
        low, high = (middle, high) if margin > 0 else (low, middle)
    assert plan_protocol2(1, 0.05, 0.9 * low, 0.0).required_runs is not None
    assert plan_protocol2(1, 0.05, 1.1 * low, 0.0).required_runs is None
