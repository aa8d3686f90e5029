"""Tests of the improved Protocol I chain (docs/amplification_improved_certificate.md) that could
catch a wrong bound: exact LP certificates, an exact adversarial dynamic program, independent
recomputation of the issue's figures, and local boxes."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import linprog

from protocols.amplification.improved_certificate import (certify_protocol1_improved,
                                                          plan_protocol1_improved)
from protocols.bell.four_party import bell_table
from protocols.bell.nosignaling import NoSignalingPolytope

ERROR = 2.0**-40


@pytest.fixture(scope="module")
def ns_equalities():
    matrix, rhs = NoSignalingPolytope((2,) * 4, 2).equalities()
    dense = matrix.toarray()
    assert np.array_equal(dense, np.round(dense)) and np.array_equal(rhs, np.round(rhs))
    return dense.astype(np.int64), rhs.astype(np.int64)


def _rational(vector: np.ndarray, denominator: int = 10**4) -> list[Fraction]:
    return [Fraction(float(v)).limit_denominator(denominator) for v in vector]


@pytest.mark.parametrize("setting", range(16))
def test_lp_identity_exact_dual_and_primal(ns_equalities, setting):
    """max over NS boxes of 3 P(x*|u*) - B.P is exactly 1, for all 16 x* at this u*: a rational
    dual y (A^T y >= c entrywise, b^T y = 1, checked in Fractions) proves <= 1 and a rational NS
    box (A P = b, P >= 0, objective 1, in Fractions) attains it."""
    matrix, rhs = ns_equalities
    bell = bell_table().reshape(-1).astype(np.int64)
    rows, columns = matrix.shape
    for output in range(16):
        objective = -bell.copy()
        objective[setting * 16 + output] += 3
        result = linprog(-objective, A_eq=matrix, b_eq=rhs, bounds=(0, None), method="highs")
        assert result.status == 0
        dual = _rational(-result.eqlin.marginals)  # dual of max c.P s.t. A P = b, P >= 0
        for column in range(columns):
            reduced = sum(int(matrix[r, column]) * dual[r] for r in range(rows)
                          if matrix[r, column] != 0)
            assert reduced >= objective[column], (setting, output, column)
        assert sum(int(rhs[r]) * dual[r] for r in range(rows)) == 1
        box = _rational(result.x)
        assert all(p >= 0 for p in box)
        for r in range(rows):
            assert sum(int(matrix[r, c]) * box[c] for c in np.flatnonzero(matrix[r])) == rhs[r]
        assert sum(int(objective[c]) * box[c] for c in range(columns)) == 1


def _worst_adversary(runs: int, top_count: int, threshold: float, grid: int) -> float:
    """Exact max over adversaries choosing Bbar_i in {0, 1/grid, ..., 1} adaptively (on the
    history's count and running sum) of P(sum B_i <= top_count, sum Bbar_i > runs threshold),
    B_i ~ Bernoulli(Bbar_i) given the past. Dynamic program over (count, units still needed)."""
    needed = math.floor(runs * threshold * grid + 1e-9) + 1  # sum of units must reach this
    # value[c, r]: success probability with count c and r units still needed, at the end
    value = np.zeros((top_count + 2, needed + 1))
    value[: top_count + 1, 0] = 1.0
    for _ in range(runs):
        new = np.zeros_like(value)
        for units in range(grid + 1):
            p = units / grid
            remaining = np.maximum(np.arange(needed + 1) - units, 0)
            stay = value[:, remaining]
            up = np.vstack([value[1:, remaining], np.zeros((1, needed + 1))])
            up[top_count + 1] = 0.0
            new = np.maximum(new, p * up + (1 - p) * stay)
        new[top_count + 1] = 0.0  # too many Bell violations: the event has failed
        value = new
    return float(value[0, needed])


def _kl(p: float, q: float) -> float:
    terms = [a * math.log(a / b) for a, b in ((p, q), (1 - p, 1 - q)) if a > 0]
    return sum(terms)


@pytest.mark.parametrize("runs, top_count, threshold", [(40, 0, 0.05), (50, 2, 0.15),
                                                         (60, 5, 0.2), (50, 10, 0.4)])
def test_martingale_chernoff_bound_against_exact_adversary(runs, top_count, threshold):
    """Step (ii): the worst adaptive adversary's P(L_n <= j/n, Lbar_n > q) stays below
    exp(-n D(j/n || q)); and the bound is not vacuous (the adversary reaches a fair share)."""
    worst = _worst_adversary(runs, top_count, threshold, grid=20)
    bound = math.exp(-runs * _kl(top_count / runs, threshold))
    assert worst <= bound * (1 + 1e-9)
    assert worst >= bound / (10 * math.sqrt(runs))


def _independent_log2_bound(runs: int, eps: float, bits: int, s: float, length: int) -> float:
    """The final bound at delta = 0 (C = 1), written out with plain math (docs, step (iii))."""
    c = (0.5 - eps) ** 4
    entropy = runs * max(0.0, math.log2(3 / (1 + s / c)))
    extractor = 2.0 ** ((bits + 1 + length * math.log2(1 + 4 * eps**2) - entropy) / 2)
    bad = 2 * (1 - s) ** runs  # exp(-n D(0 || s)) = (1 - s)^n
    return bits + math.log2(extractor + bad)


def _cyclic(n: int) -> int:
    """Smallest prime >= n with 2 a primitive root, by trial division (independent of galois)."""
    candidate = max(n, 3)
    while True:
        if all(candidate % d for d in range(2, math.isqrt(candidate) + 1)):
            order, power = 1, 2 % candidate
            while power != 1:
                power, order = power * 2 % candidate, order + 1
            if order == candidate - 1:
                return candidate
        candidate += 1


@pytest.mark.parametrize("eps, expected", [(0.0, 816), (0.01, 868), (0.1, 2093)])
def test_plan_matches_issue_figures_and_independent_evaluation(eps, expected):
    """Issue 10's figures (64 bits, 2^-40, ideal device); n certifies by the independent formula,
    and n - 1 fails for every s of a fine grid. (Cyclic shift alone: the default planner also
    considers the polynomial hash, test below.)"""
    plan = plan_protocol1_improved(64, ERROR, eps, 0.0, extractors=("cyclic-shift",))
    runs = plan.required_runs
    assert runs == expected
    cert = plan.certificate
    assert cert.t_length == _cyclic(4 * runs)
    assert _independent_log2_bound(runs, eps, 64, cert.s, _cyclic(4 * runs)) <= -40 + 1e-9
    grid = np.linspace(1e-4, 2 * (0.5 - eps) ** 4 - 1e-6, 20000)
    smaller = min(_independent_log2_bound(runs - 1, eps, 64, float(s), _cyclic(4 * runs - 4))
                  for s in grid)
    assert smaller > -40


def test_noise_threshold_and_monotone_in_runs():
    """delta >= 2 (1/2 - eps)^4 leaves no min-entropy; just below it, a large n certifies."""
    eps = 0.05
    limit = 2 * (0.5 - eps) ** 4
    assert plan_protocol1_improved(64, ERROR, eps, limit).required_runs is None
    assert plan_protocol1_improved(64, ERROR, eps, 0.5 * limit).required_runs is not None
    values = [certify_protocol1_improved(n, 0.01, 0.0, 64).log2_error_bound
              for n in (500, 868, 2000)]
    assert values[0] > values[1] > values[2]


def test_local_deterministic_boxes_never_certify():
    """All 256 local deterministic boxes have Bell sum >= 2, so with every setting at least
    (1/2 - eps)^4 likely their SV-Bell value is >= 2 (1/2 - eps)^4: Protocol I needs delta at
    least that to accept them, and there the chain certifies nothing at any n."""
    table = bell_table()
    for eps in (0.0, 0.01, 0.1):
        c = (0.5 - eps) ** 4
        smallest = math.inf
        for strategy in itertools.product((0, 1), repeat=8):  # party k outputs strategy[2k + u_k]
            box = np.zeros((16, 16))
            for u in range(16):
                bits = [(u >> (3 - k)) & 1 for k in range(4)]
                x = sum(strategy[2 * k + bits[k]] << (3 - k) for k in range(4))
                box[u, x] = 1
            smallest = min(smallest, float(np.sum(table * box)))
        assert smallest == 2
        plan = plan_protocol1_improved(1, 0.5, eps, smallest * c)
        assert plan.required_runs is None


def test_local_device_runs_never_output_bits_and_ideal_device_certifies():
    """End to end with the improved chain at the planned n = 868 (eps = 0.01): three local
    deterministic devices (seeded) abort or are not certified at delta in {0, 0.1}, so never
    output bits; the ideal device (seed 3, source seed 4) certifies 64 bits at 2^-40."""
    from protocols.amplification.protocol1 import (STATUS_CERTIFIED, CyclicShiftExtractor,
                                                   run_protocol1)
    from qdevices import FourPartyDevice, LocalFourPartyDevice
    from qdevices.randomness import Randomness
    from qdevices.sources import named_source

    extractor = CyclicShiftExtractor()
    for index in (0, 77, 255):
        strategy = LocalFourPartyDevice.all_strategies()[index]
        for delta in (0.0, 0.1):
            result = run_protocol1(LocalFourPartyDevice(strategy, seed=index),
                                   named_source("iid-high", 0.01, Randomness(seed=5)), 868,
                                   delta=delta, error=ERROR, extractor=extractor,
                                   output_bits=64, certificate="improved")
            assert result.output is None and result.status != STATUS_CERTIFIED
    result = run_protocol1(FourPartyDevice(0.0, seed=3),
                           named_source("iid-high", 0.01, Randomness(seed=4)), 868, delta=0.0,
                           error=ERROR, extractor=extractor, output_bits=64,
                           certificate="improved")
    assert result.status == STATUS_CERTIFIED and result.output.size == 64


def test_bad_inputs_name_parameter():
    with pytest.raises(ValueError, match="runs"):
        certify_protocol1_improved(0, 0.01, 0.0, 64)
    with pytest.raises(ValueError, match="s must"):
        certify_protocol1_improved(100, 0.01, 0.0, 64, s=-1.0)


def test_cli_plan_selects_the_chain(capsys):
    """``--certificate improved`` (default) plans n = 868 at eps = 0.01 with the cyclic shift and
    takes the polynomial hash when it needs fewer runs; ``paper`` keeps the paper chain's planner
    (no n certifies 64 bits at 2^-40 there, issue 10)."""
    import json

    from protocols.amplification.certificate import plan_protocol1
    from protocols.amplification.protocol1 import CyclicShiftExtractor
    from protocols.cli import main

    base = ["amplify", "--protocol", "1", "--sv-eps", "0.01", "--bits", "64", "--plan", "--json"]
    main(base)
    improved = json.loads(capsys.readouterr().out)
    assert improved["runs_by_extractor"]["cyclic-shift"] == 868
    assert improved["required_runs"] == min(improved["runs_by_extractor"].values())
    assert improved["certificate_chain"] == "improved"
    main(base + ["--certificate", "paper"])
    paper = json.loads(capsys.readouterr().out)
    expected = plan_protocol1(64, ERROR, 0.01, 0.0, CyclicShiftExtractor())
    assert paper["required_runs"] == expected.required_runs is None
    assert paper["certificate"]["log2_error_bound"] == expected.certificate.log2_error_bound


def test_unknown_chain_is_rejected():
    from protocols.amplification.protocol1 import (AmplificationInputError, CyclicShiftExtractor,
                                                   certificate_for_runs)

    with pytest.raises(AmplificationInputError, match="certificate must be one of"):
        certificate_for_runs(100, 0.01, 0.0, ERROR, 8, CyclicShiftExtractor(), "best")


def _independent_poly_log2_bound(runs: int, eps: float, bits: int, s: float, b: int) -> float:
    """The final bound at delta = 0 with the polynomial-hash error written out with plain math:
    (1 + 4 eps^2)^b 2^(m/2) sqrt(2^-G + (ceil(4n/b) - 1) 2^-b) (docs, short-seed section)."""
    c = (0.5 - eps) ** 4
    entropy = runs * max(0.0, math.log2(3 / (1 + s / c)))
    blocks = math.ceil(4 * runs / b)
    inside = [-entropy] + ([math.log2(blocks - 1) - b] if blocks > 1 else [])
    log2_ext = (b * math.log2(1 + 4 * eps**2) + bits / 2
                + 0.5 * float(np.logaddexp2.reduce(inside)))  # log space: 2^-b underflows
    log2_bad = 1 + runs * math.log2(1 - s)  # 2 exp(-n D(0 || s)) = 2 (1 - s)^n
    return bits + max(log2_ext, log2_bad) + math.log2(1 + 2.0**-abs(log2_ext - log2_bad))


@pytest.mark.parametrize("eps", [0.1, 0.2, 0.3])
def test_planner_picks_the_extractor_with_smallest_n(eps):
    """With both extractors the plan takes the smaller n; the short-seed certificate is checked
    against the independent formula, and n - 1 fails for every b and every s of a grid."""
    from extractors.polynomial_hash import FIELD_DEGREES
    from protocols.amplification.improved_certificate import EXTRACTORS

    both = plan_protocol1_improved(64, ERROR, eps, 0.0, extractors=EXTRACTORS)
    cyclic = plan_protocol1_improved(64, ERROR, eps, 0.0, extractors=("cyclic-shift",))
    assert plan_protocol1_improved(64, ERROR, eps, 0.0) == both  # both is the default
    runs_by = dict(both.runs_by_extractor)
    assert runs_by["cyclic-shift"] == cyclic.required_runs
    assert both.extractor == "polynomial-hash" and both.required_runs == runs_by["polynomial-hash"]
    assert cyclic.required_runs is None or both.required_runs < cyclic.required_runs
    cert = both.certificate
    runs, b = both.required_runs, cert.field_degree
    assert cert.t_length == 2 * b and cert.extractor.startswith("polynomial-hash")
    assert _independent_poly_log2_bound(runs, eps, 64, cert.s, b) <= -40 + 1e-9
    grid = np.geomspace(1e-7, 2 * (0.5 - eps) ** 4 * (1 - 1e-9), 4000)
    smaller = min(_independent_poly_log2_bound(runs - 1, eps, 64, float(s), degree)
                  for s in grid for degree in FIELD_DEGREES if degree >= 64)
    assert smaller > -40
    assert both.to_dict()["extractor"] == "polynomial-hash"


def test_short_seed_extends_certifiable_eps_beyond_cyclic_limit():
    """The cyclic shift certifies nothing above sqrt((3^(1/4) - 1)/4) = 0.2811; the polynomial
    hash does at eps = 0.32 (below its limit sqrt((sqrt 2 - 1)/4) = 0.3218) and not at 0.3225."""
    from protocols.amplification.improved_certificate import EXTRACTORS

    assert plan_protocol1_improved(64, ERROR, 0.282, 0.0,
                                   extractors=("cyclic-shift",)).required_runs is None
    assert plan_protocol1_improved(64, ERROR, 0.32, 0.0, extractors=EXTRACTORS).required_runs
    assert plan_protocol1_improved(64, ERROR, 0.3225, 0.0,
                                   extractors=EXTRACTORS).required_runs is None


def test_unknown_extractor_is_rejected():
    with pytest.raises(ValueError, match="extractor must be one of"):
        certify_protocol1_improved(100, 0.01, 0.0, 8, extractor="toeplitz")
    with pytest.raises(ValueError, match="extractor must be one of"):
        plan_protocol1_improved(8, ERROR, 0.01, 0.0, extractors=("toeplitz",))
