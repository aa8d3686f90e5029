"""Tests of protocols.bell.nosignaling: the polytope, its LPs, and the eq. (9) check of paper 000.

Expected values are derived by hand (see each docstring): the PR box value of CHSH, the
algebraic maximum of Mermin's expression, local values by exhaustive enumeration (no LP),
and the NS-optimal trade-off P(A=0|X=0) = 1/2 + M w, attained by mixing a PR-type box with
a local deterministic box.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from protocols.bell.chained import bell_indicator, in_estimation_support
from protocols.bell.nosignaling import NoSignalingInputError, NoSignalingPolytope

LP_TOLERANCE = 1e-9


def _chained_polytope(settings: int) -> NoSignalingPolytope:
    """Alice: M settings; Bob: M + 1 (the key setting y = M is outside Q's support)."""
    return NoSignalingPolytope((settings, settings + 1))


def _chained_objective(polytope: NoSignalingPolytope, settings: int) -> np.ndarray:
    """``<W>`` as a vector: Q_{x,y} of eq. (5) times W of eq. (4)."""
    x = np.arange(settings)[:, None]
    y = np.arange(settings + 1)[None, :]
    weights = in_estimation_support(x, y, settings) / (2.0 * settings)
    return polytope.expectation_vector(
        lambda s, o: bell_indicator(o[:, 0], o[:, 1], s[:, 0], s[:, 1], settings), weights
    )


def _marginal_objective(polytope: NoSignalingPolytope) -> np.ndarray:
    """``P(A = 0 | X = 0)``, read at Bob's setting 0 (any setting gives the same by no-signaling)."""
    weights = np.zeros(polytope.setting_counts)
    weights[0, 0] = 1.0
    return polytope.expectation_vector(lambda s, o: (o[:, 0] == 0).astype(float), weights)


# -------------------------------------------------------------------------- paper 000 eq. (9)


@pytest.mark.parametrize("settings", [2, 3, 7])
def test_eq9_guessing_bound_holds_and_is_tight(settings):
    """eq. (9): P(A=a|X=0) <= 1/2 + M <W> over NS boxes. It is tight: mixing a local
    deterministic box with a = 0 (W = 1/(2M)) with weight p and a PR-type box (W = 0,
    uniform marginals) gives W = p/(2M) and P(A=0|X=0) = 1/2 + p/2 = 1/2 + M W."""
    polytope = _chained_polytope(settings)
    bell = _chained_objective(polytope, settings)
    marginal = _marginal_objective(polytope)
    local_bound = 1.0 / (2 * settings)
    for w in (0.0, 0.1 * local_bound, 0.5 * local_bound, 0.9 * local_bound, local_bound, 2 * local_bound):
        outcome = polytope.maximize(marginal, A_ub=bell[None, :], b_ub=[w])
        assert outcome.success, outcome.message
        assert outcome.value <= 0.5 + settings * w + LP_TOLERANCE
        assert outcome.value == pytest.approx(min(1.0, 0.5 + settings * w), abs=1e-7)
        assert polytope.is_member(outcome.box)
        assert float(bell @ outcome.box.ravel()) <= w + LP_TOLERANCE


@pytest.mark.parametrize("settings", [2, 3, 7])
def test_pr_type_box_reaches_w_zero(settings):
    """The largest violation <W> = 0 is reached by NS boxes (paper 000, text after eq. 6)."""
    polytope = _chained_polytope(settings)
    bell = _chained_objective(polytope, settings)
    outcome = polytope.maximize(np.zeros(polytope.n_variables), A_ub=bell[None, :], b_ub=[0.0])
    assert outcome.success
    assert float(bell @ outcome.box.ravel()) == pytest.approx(0.0, abs=LP_TOLERANCE)
    assert -polytope.maximize(-bell).value == pytest.approx(0.0, abs=LP_TOLERANCE)


@pytest.mark.parametrize("settings", [2, 3, 4, 5])
def test_local_deterministic_strategies_respect_eq6(settings):
    """Eq. (6): every local deterministic strategy has <W> >= 1/(2M), with equality reached
    (enumeration of all 2^M * 2^(M+1) strategies; no LP). Validates the encoding of W."""
    alice = np.array(list(itertools.product((0, 1), repeat=settings)), dtype=np.uint8)
    bob = np.array(list(itertools.product((0, 1), repeat=settings + 1)), dtype=np.uint8)
    x, y = np.meshgrid(np.arange(settings), np.arange(settings + 1), indexing="ij")
    weights = in_estimation_support(x, y, settings) / (2.0 * settings)
    a = alice[:, x][:, None]  # (strategies_A, 1, M, M+1)
    b = bob[:, y][None, :]  # (1, strategies_B, M, M+1)
    values = np.sum(weights * bell_indicator(a, b, x, y, settings), axis=(2, 3))
    assert values.min() == pytest.approx(1.0 / (2 * settings), abs=1e-12)


# ------------------------------------------------------------------------- generic polytope


def test_chsh_no_signaling_maximum_is_the_pr_box_value():
    """CHSH = sum_xy (-1)^{xy} E_xy: local max 2, NS max 4 (PR box)."""
    polytope = NoSignalingPolytope((2, 2))
    chsh = polytope.expectation_vector(
        lambda s, o: (-1.0) ** (s[:, 0] * s[:, 1]) * (-1.0) ** (o[:, 0] + o[:, 1]), np.ones((2, 2))
    )
    outcome = polytope.maximize(chsh)
    assert outcome.value == pytest.approx(4.0, abs=LP_TOLERANCE)
    box = outcome.box  # the PR box: a XOR b = x AND y, uniform
    for x, y, a, b in itertools.product((0, 1), repeat=4):
        assert box[x, y, a, b] == pytest.approx(0.5 if (a ^ b) == (x & y) else 0.0, abs=1e-7)


def test_mermin_three_party_values():
    """Mermin <A1B0C0> + <A0B1C0> + <A0B0C1> - <A1B1C1>: local max 2 (enumeration),
    NS max 4 (the algebraic maximum, reached e.g. by GHZ statistics)."""
    signs = {(1, 0, 0): 1.0, (0, 1, 0): 1.0, (0, 0, 1): 1.0, (1, 1, 1): -1.0}
    weights = np.zeros((2, 2, 2))
    for setting, sign in signs.items():
        weights[setting] = sign
    polytope = NoSignalingPolytope((2, 2, 2))
    mermin = polytope.expectation_vector(lambda s, o: (-1.0) ** o.sum(axis=1), weights)
    assert polytope.maximize(mermin).value == pytest.approx(4.0, abs=LP_TOLERANCE)
    local = max(
        sum(sign * (-1) ** (f[0][s[0]] + f[1][s[1]] + f[2][s[2]]) for s, sign in signs.items())
        for f in itertools.product(itertools.product((0, 1), repeat=2), repeat=3)
    )
    assert local == 2


def test_equality_rows_counted_by_hand():
    """Rows: one normalisation per setting tuple, plus (S_k - 1) * prod_{j != k} S_j O_j per party."""
    polytope = NoSignalingPolytope((2, 3, 2), outcome_counts=(2, 3, 2))
    matrix, rhs = polytope.equalities()
    assert polytope.n_variables == 12 * 12
    expected = 12 + 1 * (3 * 3 * 2 * 2) + 2 * (2 * 2 * 2 * 2) + 1 * (2 * 2 * 3 * 3)
    assert matrix.shape == (expected, 144)
    assert rhs[:12].tolist() == [1.0] * 12 and not rhs[12:].any()
    four = NoSignalingPolytope((2, 2, 2, 2))
    assert four.n_variables == 256 and four.equalities()[0].shape == (16 + 4 * (2 * 2) ** 3, 256)


def test_membership_of_local_and_signaling_boxes():
    polytope = NoSignalingPolytope((2, 3), outcome_counts=(2, 3))
    rng = np.random.default_rng(5)
    alice = rng.dirichlet(np.ones(2), size=2)  # P(a|x)
    bob = rng.dirichlet(np.ones(3), size=3)  # P(b|y)
    product = np.einsum("xa,yb->xyab", alice, bob)
    assert polytope.is_member(product)
    signaling = np.zeros(polytope.shape)  # Bob outputs Alice's setting
    for x, y in itertools.product(range(2), range(3)):
        signaling[x, y, 0, x] = 1.0
    assert not polytope.is_member(signaling)


def test_index_and_labels_agree():
    polytope = NoSignalingPolytope((2, 3, 2), outcome_counts=(2, 3, 2))
    settings, outputs = polytope.labels
    for variable in (0, 17, 143):
        assert polytope.index(settings[variable], outputs[variable]) == variable
    assert polytope.index((1, 2, 1), (1, 2, 1)) == 143
    np.testing.assert_array_equal(polytope.index(settings, outputs), np.arange(144))


def test_lp_reports_infeasibility():
    polytope = NoSignalingPolytope((2, 2))
    total = np.ones(polytope.n_variables)
    outcome = polytope.maximize(np.zeros(polytope.n_variables), extra_eq=(total[None, :], [3.0]))
    assert not outcome.success and outcome.value is None and outcome.status == 2


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: NoSignalingPolytope(()), "setting_counts"),
        (lambda: NoSignalingPolytope((2, 0)), "setting_counts"),
        (lambda: NoSignalingPolytope((2, 2), outcome_counts=1), "outcome_counts"),
        (lambda: NoSignalingPolytope((2, 2), outcome_counts=(2, 2, 2)), "outcome_counts"),
        (lambda: NoSignalingPolytope((2, 2)).index((2, 0), (0, 0)), "settings"),
        (lambda: NoSignalingPolytope((2, 2)).index((0, 0), (0,)), "outputs"),
        (lambda: NoSignalingPolytope((2, 2)).maximize(np.zeros(3)), "objective"),
        (lambda: NoSignalingPolytope((2, 2)).expectation_vector(lambda s, o: s[:, 0], np.ones(2)), "settings_distribution"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(NoSignalingInputError, match=match):
        call()


def test_normalisation_fixes_the_total_mass():
    """Summing every P(a|x) gives the number of setting tuples, whatever the box."""
    polytope = NoSignalingPolytope((3, 2))
    outcome = polytope.maximize(np.ones(polytope.n_variables))
    assert outcome.value == pytest.approx(math.prod(polytope.setting_counts), abs=LP_TOLERANCE)
