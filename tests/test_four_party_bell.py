"""Tests of the four-party Bell inequality (paper 004, eqs. (4)-(8)) and the Lemma 11 LP."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from protocols.bell import four_party as fpb


def _psi_box(noise: float) -> np.ndarray:
    """P[u, x] of (1 - noise)|Psi><Psi| + noise I/16, |Psi> of eq. (8), by direct state algebra.

    Independent of the indicator code: builds the state vector, projects on X/Z eigenvectors.
    """
    zero, one = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    plus, minus = (zero + one) / np.sqrt(2), (zero - one) / np.sqrt(2)
    phi_minus = (np.kron(zero, zero) - np.kron(one, one)) / np.sqrt(2)
    psi_plus = (np.kron(zero, one) + np.kron(one, zero)) / np.sqrt(2)
    phi_tilde_plus = (np.kron(zero, plus) + np.kron(one, minus)) / np.sqrt(2)
    psi_tilde_minus = (np.kron(zero, minus) - np.kron(one, plus)) / np.sqrt(2)
    state = (np.kron(phi_minus, phi_tilde_plus) + np.kron(psi_plus, psi_tilde_minus)) / np.sqrt(2)
    basis = {0: (plus, minus), 1: (zero, one)}  # u = 0: X basis, u = 1: Z basis (eqs. (9)-(10))
    box = np.empty((16, 16))
    for u in range(16):
        us = [(u >> (3 - i)) & 1 for i in range(4)]
        for x in range(16):
            xs = [(x >> (3 - i)) & 1 for i in range(4)]
            vector = basis[us[0]][xs[0]]
            for i in range(1, 4):
                vector = np.kron(vector, basis[us[i]][xs[i]])
            box[u, x] = (1 - noise) * float(vector @ state) ** 2 + noise / 16
    return box


def _deterministic_box(strategy: np.ndarray) -> np.ndarray:
    """P[u, x] of the local deterministic strategy x_i = strategy[i, u_i]."""
    box = np.zeros((16, 16))
    for u in range(16):
        us = [(u >> (3 - i)) & 1 for i in range(4)]
        x = sum(int(strategy[i, us[i]]) << (3 - i) for i in range(4))
        box[u, x] = 1.0
    return box


def test_indicator_hand_examples() -> None:
    settings = np.array([[0, 0, 0, 1], [0, 0, 0, 1], [0, 1, 1, 1], [0, 1, 1, 1],
                         [0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 1, 1]])
    outputs = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0],
                        [0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])
    # U0 counts even parity, U1 odd parity, other settings never count (eq. (7)).
    assert fpb.bell_indicator(outputs, settings).tolist() == [1, 0, 1, 0, 0, 0, 0]


def test_ideal_state_reaches_zero_and_noise_gives_four_xi() -> None:
    assert fpb.bell_sum(_psi_box(0.0)) == pytest.approx(0.0, abs=1e-12)
    for xi in (0.01, 0.1, 0.5):
        # 8 tested settings, each with probability xi/2 of the "wrong" parity: 4 xi.
        assert fpb.bell_sum(_psi_box(xi)) == pytest.approx(4 * xi, abs=1e-12)


def test_local_bound_is_two_over_all_256_deterministic_strategies() -> None:
    values = [fpb.bell_sum(_deterministic_box(np.array(bits).reshape(4, 2)))
              for bits in itertools.product((0, 1), repeat=8)]
    assert min(values) == pytest.approx(fpb.LOCAL_BOUND)


def test_sv_bell_value_uses_setting_weights() -> None:
    box = _deterministic_box(np.zeros((4, 2), dtype=int))  # always outputs 0000
    nu = np.full(16, 1 / 16)
    # Outputs 0000 are even: they count on the 4 settings of U0 only.
    assert fpb.sv_bell_value(box, nu) == pytest.approx(4 / 16)


def test_acceptance_is_exact_at_the_boundary() -> None:
    assert fpb.acceptance(1, 10, 0.1).accepted
    assert not fpb.acceptance(1, 10, 0.0999).accepted
    assert fpb.acceptance(0, 5, 0.0).accepted
    assert not fpb.acceptance(1, 10**9, 0.0).accepted
    result = fpb.bell_test(np.zeros((4, 4), dtype=np.uint8), np.eye(4, dtype=np.uint8)[::-1], 0.5)
    assert (result.violations, result.runs, result.accepted) == (4, 4, False)


@pytest.mark.parametrize("delta", [-0.1, float("nan"), float("inf")])
def test_bad_delta_names_parameter(delta: float) -> None:
    with pytest.raises(ValueError, match="delta"):
        fpb.acceptance(0, 1, delta)


def test_bad_shapes_and_values() -> None:
    with pytest.raises(ValueError, match="outputs"):
        fpb.bell_indicator(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="settings"):
        fpb.bell_indicator(np.zeros((3, 4)), np.full((3, 4), 2))
    with pytest.raises(ValueError, match="runs"):
        fpb.acceptance(0, 0, 0.1)


def _is_no_signaling(box: np.ndarray, tol: float = 1e-7) -> bool:
    """Independent check: normalised, non-negative, and every single-party marginalisation of
    the other parties' outputs is independent of that party's setting."""
    p = box.reshape((2,) * 8)  # axes: u1..u4, x1..x4
    if p.min() < -tol or not np.allclose(p.sum(axis=(4, 5, 6, 7)), 1, atol=tol):
        return False
    for k in range(4):
        marginal = p.sum(axis=4 + k)
        if not np.allclose(np.take(marginal, 0, axis=k), np.take(marginal, 1, axis=k), atol=tol):
            return False
    return True


def test_lp_never_exceeds_paper_bound_and_meets_it_at_zero() -> None:
    assert fpb.lemma11_bound(0.0).max_probability == pytest.approx(1 / 3, abs=1e-7)
    for delta in np.linspace(0.05, 2.5, 12):
        bound = fpb.lemma11_bound(float(delta))
        assert bound.max_probability <= bound.paper_bound + 1e-9
        assert bound.max_probability <= 1 + 1e-9
        assert bound.certified <= min(1.0, bound.paper_bound)
        if delta < 1.0:  # strictly tighter than eq. (42) wherever eq. (42) is non-trivial
            assert bound.max_probability < bound.paper_bound - 1e-3


def test_lp_witness_is_a_feasible_no_signaling_box() -> None:
    for delta in (0.0, 0.4):
        bound = fpb.lemma11_bound(delta)
        value, box = fpb.lp_max_probability(bound.argmax_setting, bound.argmax_output, delta)
        assert _is_no_signaling(box)
        assert fpb.bell_sum(box) <= delta + 1e-7
        assert box[bound.argmax_setting, bound.argmax_output] == pytest.approx(value, abs=1e-7)


def test_lp_at_least_the_mixture_with_a_local_deterministic_box() -> None:
    """Mixing the delta = 0 optimum with a deterministic box of Bell sum 2 that outputs x* on u*
    (found by brute force over the 256 strategies) is feasible at Bell sum delta, so
    LP(delta) >= (1 - delta/2) LP(0) + delta/2."""
    zero = fpb.lemma11_bound(0.0)
    u_star, x_star = zero.argmax_setting, zero.argmax_output
    witness = None
    for bits in itertools.product((0, 1), repeat=8):
        box = _deterministic_box(np.array(bits).reshape(4, 2))
        if fpb.bell_sum(box) == 2 and box[u_star, x_star] == 1:
            witness = box
            break
    assert witness is not None
    for delta in (0.3, 1.2):
        _, optimum_at_zero = fpb.lp_max_probability(u_star, x_star, 0.0)
        mixture = (1 - delta / 2) * optimum_at_zero + delta / 2 * witness
        assert _is_no_signaling(mixture) and fpb.bell_sum(mixture) <= delta + 1e-7
        assert fpb.lemma11_bound(delta).max_probability >= mixture[u_star, x_star] - 1e-7


def test_symmetry_reduction_matches_all_256_lps() -> None:
    reduced = fpb.lemma11_bound(0.7)
    full = fpb.lemma11_bound(0.7, exhaustive=True)
    assert reduced.max_probability == pytest.approx(full.max_probability, abs=1e-9)
    for u in fpb.ORBIT_SETTINGS:
        assert reduced.per_setting[u] == pytest.approx(full.per_setting[u], abs=1e-9)


def test_cli_lp_bound_json_and_bad_input(capsys) -> None:
    import json

    from protocols.cli import main

    assert main(["lp-bound", "--delta", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["max_probability"] == pytest.approx(1 / 3, abs=1e-7)
    assert report["paper_bound"] == pytest.approx(1 / 3)
    with pytest.raises(SystemExit) as exit_info:
        main(["lp-bound", "--delta", "-0.5"])
    assert exit_info.value.code == 2
    assert "--delta" in capsys.readouterr().err
