"""Linear programs over n-party no-signaling boxes (scipy ``linprog``, method "highs").

A box is a conditional distribution ``P(a_1..a_n | x_1..x_n)``: party k has
``setting_counts[k]`` settings and ``outcome_counts[k]`` outcomes. Its variables are the
numbers ``P(a | x)`` for every setting tuple x and outcome tuple a, laid out as a C-ordered
array of shape ``setting_counts + outcome_counts`` (settings axes first), so variable
``index(x, a) = ravel_multi_index(x + a)``.

The no-signaling polytope (paper 000 eq. 1; paper 004 Sec. on no-signaling boxes) is cut out by

* normalisation: ``sum_a P(a|x) = 1`` for every setting tuple x;
* non-negativity: ``P(a|x) >= 0``;
* no-signaling: for every party k, the marginal of the other parties,
  ``sum_{a_k} P(a|x)``, does not depend on ``x_k``. Imposing this for each single party is
  enough: the marginal of any subset S is obtained by summing out the parties outside S one at
  a time, and each step removes the dependence on that party's setting, so it is independent
  of every setting outside S.

Rows are imposed as ``marginal(x_k = s) - marginal(x_k = 0) = 0`` for ``s >= 1``; some rows
are redundant (HiGHS presolve removes them). Matrices are scipy sparse CSR.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, csr_matrix, vstack


class NoSignalingInputError(ValueError):
    """A no-signaling LP parameter is malformed or out of range."""


@dataclass(frozen=True)
class LPOutcome:
    """Result of an LP over no-signaling boxes.

    ``value`` is the optimum of the objective as posed (``None`` unless ``success``);
    ``box`` is an optimal box of shape ``setting_counts + outcome_counts``; ``status`` and
    ``message`` are scipy's (0 = optimal, 2 = infeasible, 3 = unbounded).
    """

    value: float | None
    box: np.ndarray | None
    status: int
    message: str

    @property
    def success(self) -> bool:
        return self.status == 0


class NoSignalingPolytope:
    """The polytope of n-party no-signaling boxes with given numbers of settings and outcomes.

    Parameters
    ----------
    setting_counts:
        Number of settings of each party (each >= 1).
    outcome_counts:
        Number of outcomes of each party (each >= 2): one integer for all, or one per party.
    """

    def __init__(self, setting_counts: Sequence[int], outcome_counts: int | Sequence[int] = 2) -> None:
        settings = tuple(int(s) for s in setting_counts)
        if not settings or any(s < 1 for s in settings):
            raise NoSignalingInputError(
                f"setting_counts={tuple(setting_counts)!r} must be a non-empty sequence of integers >= 1"
            )
        if isinstance(outcome_counts, (int, np.integer)):
            outcomes = (int(outcome_counts),) * len(settings)
        else:
            outcomes = tuple(int(o) for o in outcome_counts)
        if len(outcomes) != len(settings) or any(o < 2 for o in outcomes):
            raise NoSignalingInputError(
                f"outcome_counts={outcome_counts!r} must be an integer >= 2 or one such integer per party "
                f"({len(settings)} parties)"
            )
        self.setting_counts: tuple[int, ...] = settings
        self.outcome_counts: tuple[int, ...] = outcomes

    @property
    def parties(self) -> int:
        return len(self.setting_counts)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of a box array: ``setting_counts + outcome_counts``."""
        return self.setting_counts + self.outcome_counts

    @property
    def n_variables(self) -> int:
        return math.prod(self.shape)

    def index(self, settings, outputs) -> np.ndarray | int:
        """Variable index of ``P(outputs | settings)``; arrays of tuples (last axis = party) work too."""
        settings_array = np.asarray(settings)
        outputs_array = np.asarray(outputs)
        for name, values, limits in (
            ("settings", settings_array, self.setting_counts),
            ("outputs", outputs_array, self.outcome_counts),
        ):
            if values.shape[-1:] != (self.parties,):
                raise NoSignalingInputError(f"{name}={values.tolist()!r} must have {self.parties} entries per tuple")
            if np.any(values < 0) or np.any(values >= np.array(limits)):
                raise NoSignalingInputError(f"{name}={values.tolist()!r} out of range: entry k must be in [0, {limits}[k])")
        coordinates = np.concatenate([settings_array, outputs_array], axis=-1)
        index = np.ravel_multi_index(tuple(np.moveaxis(coordinates, -1, 0)), self.shape)
        return int(index) if np.ndim(index) == 0 else index

    @cached_property
    def labels(self) -> tuple[np.ndarray, np.ndarray]:
        """``(settings, outputs)``: two int arrays of shape ``(n_variables, parties)`` giving each
        variable's setting tuple and outcome tuple."""
        coordinates = np.stack(np.unravel_index(np.arange(self.n_variables), self.shape), axis=1)
        return coordinates[:, : self.parties], coordinates[:, self.parties :]

    @cached_property
    def _equalities(self) -> tuple[csr_matrix, np.ndarray]:
        indices = np.arange(self.n_variables).reshape(self.shape)
        n_setting_tuples = math.prod(self.setting_counts)
        normalisation = coo_matrix(
            (
                np.ones(self.n_variables),
                (np.arange(self.n_variables) // math.prod(self.outcome_counts), np.arange(self.n_variables)),
            ),
            shape=(n_setting_tuples, self.n_variables),
        )
        blocks = [normalisation]
        for party in range(self.parties):
            if self.setting_counts[party] > 1:
                blocks.append(self._no_signaling_rows(indices, party))
        matrix = vstack(blocks, format="csr")
        rhs = np.zeros(matrix.shape[0])
        rhs[:n_setting_tuples] = 1.0
        return matrix, rhs

    def _no_signaling_rows(self, indices: np.ndarray, party: int) -> coo_matrix:
        """Rows ``sum_{a_k} P(a | x_k = s, .) - sum_{a_k} P(a | x_k = 0, .) = 0`` for s >= 1."""
        moved = np.moveaxis(indices, (party, self.parties + party), (0, 1))
        n_settings, n_outcomes = moved.shape[:2]
        grouped = moved.reshape(n_settings, n_outcomes, -1)
        rest = grouped.shape[2]
        plus = grouped[1:]
        minus = np.broadcast_to(grouped[:1], plus.shape)
        rows = np.broadcast_to(
            (np.arange(n_settings - 1)[:, None, None] * rest + np.arange(rest)[None, None, :]), plus.shape
        )
        data = np.concatenate([np.ones(plus.size), -np.ones(plus.size)])
        return coo_matrix(
            (data, (np.concatenate([rows.ravel(), rows.ravel()]), np.concatenate([plus.ravel(), minus.ravel()]))),
            shape=((n_settings - 1) * rest, self.n_variables),
        )

    def equalities(self) -> tuple[csr_matrix, np.ndarray]:
        """``(A_eq, b_eq)``: normalisation and no-signaling rows (CSR), with their right-hand side."""
        matrix, rhs = self._equalities
        return matrix.copy(), rhs.copy()

    def is_member(self, box: np.ndarray, tolerance: float = 1e-9) -> bool:
        """True when ``box`` (shape :attr:`shape` or flat) satisfies every constraint to ``tolerance``."""
        flat = np.asarray(box, dtype=float).reshape(-1)
        if flat.size != self.n_variables:
            raise NoSignalingInputError(f"box has {flat.size} entries, expected {self.n_variables}")
        matrix, rhs = self._equalities
        return bool(np.all(flat >= -tolerance) and np.max(np.abs(matrix @ flat - rhs)) <= tolerance)

    def expectation_vector(
        self,
        function: Callable[[np.ndarray, np.ndarray], np.ndarray],
        settings_distribution: np.ndarray,
    ) -> np.ndarray:
        """Objective vector c with ``c . P = sum_{x,a} Q(x) f(x, a) P(a|x)``.

        ``function(settings, outputs)`` receives two int arrays of shape ``(n_variables, parties)``
        (see :attr:`labels`) and returns one value per row. ``settings_distribution`` is an array
        of shape ``setting_counts`` (the weights Q(x); not required to sum to 1).
        """
        weights = np.asarray(settings_distribution, dtype=float)
        if weights.shape != self.setting_counts:
            raise NoSignalingInputError(
                f"settings_distribution has shape {weights.shape}, expected {self.setting_counts}"
            )
        settings, outputs = self.labels
        values = np.asarray(function(settings, outputs), dtype=float)
        if values.shape != (self.n_variables,):
            raise NoSignalingInputError(
                f"function returned shape {values.shape}, expected ({self.n_variables},)"
            )
        return weights[tuple(settings.T)] * values

    def maximize(
        self,
        objective: np.ndarray,
        A_ub=None,
        b_ub=None,
        extra_eq: tuple[object, np.ndarray] | None = None,
    ) -> LPOutcome:
        """Maximise ``objective . P`` over no-signaling boxes P with ``A_ub P <= b_ub`` and
        ``extra_eq[0] P = extra_eq[1]`` (HiGHS). ``value`` is the maximum; to minimise, maximise
        the negated objective."""
        objective = np.asarray(objective, dtype=float)
        if objective.shape != (self.n_variables,):
            raise NoSignalingInputError(f"objective has shape {objective.shape}, expected ({self.n_variables},)")
        matrix, rhs = self._equalities
        if extra_eq is not None:
            extra_matrix, extra_rhs = extra_eq
            matrix = vstack([matrix, csr_matrix(extra_matrix)], format="csr")
            rhs = np.concatenate([rhs, np.atleast_1d(np.asarray(extra_rhs, dtype=float))])
        if A_ub is not None:
            A_ub = csr_matrix(np.atleast_2d(A_ub) if not hasattr(A_ub, "tocsr") else A_ub)
            b_ub = np.atleast_1d(np.asarray(b_ub, dtype=float))
        result = linprog(
            -objective, A_ub=A_ub, b_ub=b_ub, A_eq=matrix, b_eq=rhs, bounds=(0, None), method="highs"
        )
        if result.status != 0:
            return LPOutcome(value=None, box=None, status=int(result.status), message=str(result.message))
        return LPOutcome(
            value=float(-result.fun),
            box=np.asarray(result.x).reshape(self.shape),
            status=0,
            message=str(result.message),
        )
