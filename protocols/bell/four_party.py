"""The four-party Bell inequality of paper 004 (eqs. (4)-(7)) and its Lemma 11 linear program.

Four parties each choose a setting ``u_i`` in {0, 1} and obtain an output ``x_i`` in {0, 1}.
Settings and outputs are indexed as 4-bit integers with party 1 the most significant bit:
``index(u) = 8 u_1 + 4 u_2 + 2 u_3 + u_4``. It is the one convention of :mod:`qdevices.devices`
(setting index and outcome code), so a four-party device's table ``P[setting index, code]``
is a box ``P[u, x]`` of this module as it stands.

The inequality (paper 004, eqs. (4)-(7)) uses the two setting classes

    U0 = {0001, 0010, 0100, 1000},   U1 = {0111, 1011, 1101, 1110},

and the indicator

    B(x, u) = [x_1 + x_2 + x_3 + x_4 = 0 mod 2] [u in U0] + [x_1 + ... + x_4 = 1 mod 2] [u in U1].

The Bell sum of eq. (5) is ``B.P = sum_{x,u} B(x, u) P(x|u)``: local boxes give at least 2 and
the quantum state |Psi> of eq. (8) gives 0. Protocol I (Fig. 1) averages ``B(x_i, u_i)`` over the
runs, ``L_n = (1/n) sum_i B(x_i, u_i)`` (eq. (63)), and accepts iff ``L_n <= delta`` (eq. (64)).

Normalisation of Lemma 11 (paper 004, Sec. IV B). Eq. (41) assumes
``B^U = (1/|U|) B.P <= delta/|U|`` with ``|U| = 16``, i.e. exactly ``B.P <= delta``: the ``delta``
of Lemma 11 bounds the *Bell sum of eq. (5)*, not the uniform average over 16 settings (that
average is ``B.P / 16``). Lemma 10 uses it so: an SV-weighted value ``B^SV <= b`` (eq. (36)) with
every setting probability at least ``(1/2 - eps)^4`` (eq. (39)) gives ``B.P <= b / (1/2 - eps)^4``,
and Lemma 11 with ``delta = b / (1/2 - eps)^4`` gives eq. (38).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

PARTIES = 4
SETTINGS = 2**PARTIES
OUTCOMES = 2**PARTIES
LOCAL_BOUND = 2.0
"""Smallest Bell sum of eq. (5) over local boxes (paper 004, Sec. II B)."""

_PLACE_VALUES = np.array([8, 4, 2, 1], dtype=np.int64)
U0 = (0b0001, 0b0010, 0b0100, 0b1000)
U1 = (0b0111, 0b1011, 0b1101, 0b1110)


class BellInputError(ValueError):
    """Bad input to a four-party Bell test function."""


def _settings_class() -> np.ndarray:
    """Class of each setting index: 0 for U0, 1 for U1, -1 for settings outside the inequality."""
    classes = np.full(SETTINGS, -1, dtype=np.int8)
    classes[list(U0)] = 0
    classes[list(U1)] = 1
    return classes


SETTING_CLASS = _settings_class()


def _check_bit_matrix(name: str, values: np.ndarray) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 2 or array.shape[1] != PARTIES:
        raise BellInputError(f"{name} must have shape (N, {PARTIES}), got {array.shape}")
    if array.size and (array.min() < 0 or array.max() > 1):
        raise BellInputError(f"{name} entries must be 0 or 1, got values in "
                             f"[{array.min()}, {array.max()}]")
    return array


def to_index(bits: np.ndarray) -> np.ndarray:
    """Rows of 4 bits -> integers 0..15 (party 1 most significant, as in :mod:`qdevices.devices`), shape (N,)."""
    return _check_bit_matrix("bits", bits).astype(np.int64) @ _PLACE_VALUES


def bell_indicator(outputs: np.ndarray, settings: np.ndarray) -> np.ndarray:
    """Per-run indicator ``B(x_i, u_i)`` of eq. (7) as a 0/1 ``uint8`` array of shape (N,)."""
    outputs = _check_bit_matrix("outputs", outputs)
    settings = _check_bit_matrix("settings", settings)
    if outputs.shape != settings.shape:
        raise BellInputError(f"outputs and settings must have the same shape, got "
                             f"{outputs.shape} and {settings.shape}")
    parity = (outputs.sum(axis=1) & 1).astype(np.int8)
    setting_class = SETTING_CLASS[to_index(settings)]
    return (setting_class == parity).astype(np.uint8)


def bell_table() -> np.ndarray:
    """The indicator vector of eq. (7) as a (16 settings, 16 outputs) 0/1 array ``B[u, x]``."""
    parity = np.array([bin(x).count("1") & 1 for x in range(OUTCOMES)], dtype=np.int8)
    return (SETTING_CLASS[:, None] == parity[None, :]).astype(np.float64)


def _check_box(box: np.ndarray) -> np.ndarray:
    array = np.asarray(box, dtype=np.float64)
    if array.shape != (SETTINGS, OUTCOMES):
        raise BellInputError(f"box must have shape ({SETTINGS}, {OUTCOMES}) as P[u, x], "
                             f"got {array.shape}")
    return array


def bell_sum(box: np.ndarray) -> float:
    """The Bell sum ``B.P = sum_{x,u} B(x,u) P(x|u)`` of eqs. (5)-(6) for a box ``P[u, x]``."""
    return float(np.sum(bell_table() * _check_box(box)))


def sv_bell_value(box: np.ndarray, setting_probabilities: np.ndarray) -> float:
    """The SV-weighted Bell value ``B^SV = sum_{x,u} nu(u) B(x,u) P(x|u)`` of eq. (36)."""
    nu = np.asarray(setting_probabilities, dtype=np.float64)
    if nu.shape != (SETTINGS,):
        raise BellInputError(f"setting_probabilities must have shape ({SETTINGS},), got {nu.shape}")
    return float(np.sum(nu[:, None] * bell_table() * _check_box(box)))


@dataclass(frozen=True)
class BellTestResult:
    """Outcome of the test of Protocol I step 2: ``L_n = violations / runs`` and ``L_n <= delta``."""

    runs: int
    violations: int
    bell_average: float
    delta: float
    accepted: bool

    def to_dict(self) -> dict[str, object]:
        return {"runs": self.runs, "violations": self.violations,
                "bell_average": self.bell_average, "delta": self.delta,
                "accepted": self.accepted}


def check_delta(delta: float) -> float:
    """Validate an acceptance threshold ``delta >= 0`` (paper 004, eq. (64))."""
    if not np.isfinite(delta) or delta < 0:
        raise BellInputError(f"delta must be a finite number >= 0, got {delta}")
    return float(delta)


def acceptance(violations: int, runs: int, delta: float) -> BellTestResult:
    """Accept iff ``L_n = violations / n <= delta`` (eq. (64)); exact integer comparison."""
    delta = check_delta(delta)
    if runs < 1:
        raise BellInputError(f"runs must be >= 1, got {runs}")
    if not 0 <= violations <= runs:
        raise BellInputError(f"violations must be in [0, runs={runs}], got {violations}")
    # violations / runs <= delta, compared exactly (delta is a binary rational): no rounding.
    accepted = violations <= Fraction(delta) * runs
    return BellTestResult(runs=int(runs), violations=int(violations),
                          bell_average=violations / runs, delta=delta, accepted=bool(accepted))


def bell_test(outputs: np.ndarray, settings: np.ndarray, delta: float) -> BellTestResult:
    """The test of Protocol I step 2 on the rounds given (eqs. (63)-(64))."""
    indicator = bell_indicator(outputs, settings)
    return acceptance(int(indicator.sum()), indicator.size, delta)


def paper_probability_bound(delta: float) -> float:
    """Lemma 11, eq. (42): ``P(x*|u*) <= (1 + 2 delta) / 3`` when ``B.P <= delta``."""
    return (1.0 + 2.0 * check_delta(delta)) / 3.0


LP_SAFETY_MARGIN = 1e-7
"""Added to every LP maximum before it enters a certificate: HiGHS's default primal/dual
feasibility tolerance, so a maximum reported slightly low by round-off is never used."""

ORBIT_SETTINGS = (0b0000, 0b0001, 0b0011, 0b0111, 0b1111)
ORBIT_OUTPUTS = (0b0000, 0b0001)


@dataclass(frozen=True)
class ProbabilityBound:
    """Lemma 11 for one ``delta``: the largest ``P(x*|u*)`` over no-signaling boxes with ``B.P <= delta``.

    ``max_probability`` is the LP maximum over every setting and output (HiGHS); ``certified``
    is ``min(1, paper_bound, max_probability + LP_SAFETY_MARGIN)``, the value certificates use;
    ``per_setting`` maps a setting index to its maximum over outputs (only the orbit
    representatives :data:`ORBIT_SETTINGS` when ``exhaustive`` is false).
    """

    delta: float
    max_probability: float
    paper_bound: float
    certified: float
    argmax_setting: int
    argmax_output: int
    per_setting: dict[int, float]
    exhaustive: bool

    def to_dict(self) -> dict[str, object]:
        return {"delta": self.delta, "max_probability": self.max_probability,
                "paper_bound": self.paper_bound, "certified_bound": self.certified,
                "argmax_setting": format(self.argmax_setting, "04b"),
                "argmax_output": format(self.argmax_output, "04b"),
                "per_setting": {format(u, "04b"): v for u, v in self.per_setting.items()},
                "exhaustive": self.exhaustive}


@lru_cache(maxsize=1)
def _polytope():
    from protocols.bell.nosignaling import NoSignalingPolytope

    return NoSignalingPolytope((2,) * PARTIES, 2)


def lp_max_probability(setting: int, output: int, delta: float) -> tuple[float, np.ndarray]:
    """Lemma 11, eq. (43): ``max P(output|setting)`` over NS boxes with ``B.P <= delta``.

    Returns the maximum and an optimal box ``P[u, x]`` of shape (16, 16).
    """
    delta = check_delta(delta)
    if not (0 <= setting < SETTINGS and 0 <= output < OUTCOMES):
        raise BellInputError(f"setting and output must be in [0, 15], got {setting}, {output}")
    polytope = _polytope()
    objective = np.zeros(SETTINGS * OUTCOMES)
    objective[setting * OUTCOMES + output] = 1.0
    outcome = polytope.maximize(objective, A_ub=bell_table().reshape(1, -1), b_ub=[delta])
    if not outcome.success:
        raise RuntimeError(f"Lemma 11 LP failed for delta={delta}: {outcome.message}")
    return float(outcome.value), outcome.box.reshape(SETTINGS, OUTCOMES)


@lru_cache(maxsize=4096)
def lemma11_bound(delta: float, exhaustive: bool = False) -> ProbabilityBound:
    """The largest ``P(x*|u*)`` over all settings and outputs under ``B.P <= delta`` (Lemma 11).

    ``delta`` bounds the Bell sum of eq. (5) (see the module docstring). With
    ``exhaustive=False`` only 10 LPs are solved, one per orbit of the inequality's symmetries:

    * permuting the four parties maps U0 and U1 to themselves and keeps the parity of x, so
      ``LP(u, x) = LP(pi u, pi x)``: settings fall into 5 orbits by Hamming weight;
    * flipping the outputs of an even number of parties (for every setting) keeps every
      parity and the no-signaling constraints, so ``LP(u, x) = LP(u, x + f)`` for even ``f``:
      outputs fall into 2 orbits by parity.

    ``exhaustive=True`` solves all 256 LPs (the tests check both agree).
    """
    delta = check_delta(delta)
    settings = range(SETTINGS) if exhaustive else ORBIT_SETTINGS
    outputs = range(OUTCOMES) if exhaustive else ORBIT_OUTPUTS
    values = {(u, x): lp_max_probability(u, x, delta)[0] for u in settings for x in outputs}
    (best_u, best_x), best = max(values.items(), key=lambda item: item[1])
    per_setting = {u: max(values[u, x] for x in outputs) for u in settings}
    paper = paper_probability_bound(delta)
    return ProbabilityBound(delta=delta, max_probability=best, paper_bound=paper,
                            certified=min(1.0, paper, best + LP_SAFETY_MARGIN),
                            argmax_setting=best_u, argmax_output=best_x,
                            per_setting=per_setting, exhaustive=exhaustive)
