r"""Estimates of the key-round error rate ``lambda`` used to choose the error-correcting code.

The estimate only sets the code rate, hence the abort probability: a wrong estimate makes
belief propagation or the hash tag fail and the run abort (:mod:`protocols.qkd.reconciliation`,
paper 000 eq. (67)); it never enters the key length, which charges the exact number ``N_c`` of
published bits. The estimator returns an *upper* estimate, because the code is sized for it.

From W-bar under the honest model (:func:`estimate_error_rate`)
--------------------------------------------------------------
Paper 000 Sec. III C: a maximally entangled state with white noise ``xi`` gives
``<W> = (1 - xi) sin^2(pi/4M) + xi/2`` (eq. (26)) and a key-pair error rate ``lambda = xi/2``.
With the upper confidence value ``W_up = W-bar + 3 sqrt(W-bar (1 - W-bar) / N_e)`` (variance
floored at ``1/N_e``), ``xi = (W_up - s) / (1/2 - s)``, ``s = sin^2(pi/4M)``, clipped to
``[0, 1]``, and ``lambda = min(xi/2, 0.49)``. It is only as good as the honest model: a device
whose errors are not white noise (readout bias, a different state) has a different
``lambda`` at the same W-bar.

Publishing the discarded key-pair rounds (``I = 1, J = 0, X = 0``) to estimate ``lambda``
directly was considered and is not implemented: it is statistically weaker than this estimate at the
large gamma the planner chooses (at ``N = 10^8``, ``lambda = 1 %``, ``gamma = 0.936``: 0.01034
against 0.01009), and it would add published data whose coverage by Theorem 9 needs its own
reviewed argument.
"""

from __future__ import annotations

import math

#: One-sided confidence multiplier on W-bar used for the estimate (efficiency only).
ESTIMATE_SIGMAS = 3.0

#: Largest estimate returned (the code needs a rate in ``[0, 0.5)``).
MAX_ESTIMATE = 0.49


def estimate_error_rate(bell_value: float, estimation_rounds: int, settings: int) -> float:
    """Key-pair error rate implied by an upper confidence value of W-bar under the honest model.

    ``W_up = W-bar + 3 sqrt(max(W-bar (1 - W-bar), 1/N_e) / N_e)``; inverting eq. (26) gives
    ``xi = (W_up - s) / (1/2 - s)`` with ``s = sin^2(pi/4M)``; ``lambda = xi/2`` (Sec. III C).
    Used to choose the error-correcting code only.
    """
    spread = math.sqrt(max(bell_value * (1.0 - bell_value), 1.0 / estimation_rounds) / estimation_rounds)
    upper = bell_value + ESTIMATE_SIGMAS * spread
    ideal = math.sin(math.pi / (4 * settings)) ** 2
    noise = min(max((upper - ideal) / (0.5 - ideal), 0.0), 1.0)
    return min(noise / 2.0, MAX_ESTIMATE)
