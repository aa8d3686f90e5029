"""Device-independent QKD secure against no-signaling adversaries (paper 000, Sec. III A).

Steps (the paper's numbering):

1. *Distribution and measurements* (:func:`choose_settings`, :func:`collect_records`): i.i.d.
   test bits I, J with P(1) = gamma from the protocol randomness; I = 0 gives X = 0, I = 1 a
   uniform X in {0..M-1}; J = 0 gives Y = M, J = 1 a uniform Y in {0..M-1}.
2. *Estimation*: N_e = {n : I_n = J_n = 1, (X_n - Y_n) mod M in {0, 1}} (eq. (12)),
   W-bar = mean of W_n over N_e (eq. (13)); N_r = {n : I_n = J_n = 0} (eq. (14)).
3. *Error correction*: one-way LDPC syndrome coding plus a t-bit two-universal hash tag
   (:mod:`protocols.qkd.reconciliation`); N_c counts every published bit about A_r; the
   probability of accepting B'_r != A_r is at most eps_erco = 2^-t.
4. *Privacy amplification*: Toeplitz hashing (two-universal, Definition 5) of A_r and B'_r to
   N_s(W-bar) bits, eq. (17) with the minimum over theta (:mod:`protocols.qkd.keyrate`).

Theorem 9 (eq. (68)): the keys are (eps + 2 eps_erco)-close to ideal in the universally
composable sense of eq. (11).

The error rate lambda used to choose the code is an estimate: by default it is inferred from
an upper confidence value of W-bar under the honest model of Sec. III C
(``<W> = (1 - xi) sin^2(pi/4M) + xi/2``, ``lambda = xi/2``). It affects only whether error
correction succeeds, never security: a wrong estimate makes the tag check fail and the run
abort. No key bit is sacrificed to estimate it.

Aborts are results (``status = "aborted"`` with a reason), not exceptions.

What is public. The paper's transcript T (eq. (19)) is I, J, C, G and the test rounds; the
certificate covers exactly that. The result also carries quantities that are *local* to Bob
and not covered: the observed QBER (a function of A_r and B_r, up to log2(N_r + 1) bits about
A_r given B_r) and the error-correction time (which grows with the number of errors).
``QKDResult.to_dict`` lists them under ``local_only``; do not publish them with the key.
The accept/reject outcome of the hash check is public and depends on B_r; Lemma 8 and
Theorem 9 (eqs. (67)-(72)) do not model such an abort flag, and the paper shares this gap: its
eq. (67) cannot hold for adversarial devices unless error correction may abort. bellbox states
it as an assumption (README, "DI-QKD").
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, ClassVar

import numpy as np

from extractors import toeplitz_hash
from qdevices import Randomness
from qdevices.jobs import RunControl, measure_in_jobs

from protocols.bell.chained import bell_indicator, in_estimation_support
from protocols.qkd.keyrate import (KeyRateInputError, asymptotic_rate, expected_key_length, finite_key_length,
                                   rounds_for_key)
from protocols.qkd.quantum_keyrate import ADVERSARIES, quantum_key_length, rounds_for_key_from_statistics
from protocols.qkd.reconciliation import error_correction_leakage, reconcile
from protocols.records import QKDRecords
from protocols.results import ProtocolResult

#: The statement each adversary model's key rests on.
THEOREMS = {
    "no-signaling": "paper 000 Theorem 9 (eq. (68)); key length eq. (17) with min over theta",
    "quantum": ("paper 000 Appendix A (Lemma 10, eq. (A2)) with Koenig-Renner-Schaffner 2009 and the quantum "
                "leftover hash lemma; key length N_s^Q of docs/quantum_chained_key.md; assumes memoryless "
                "devices (no-signalling between all 2N measurements)"),
}

#: One-sided confidence multiplier on W-bar used for the error-rate estimate (efficiency only).
ESTIMATE_SIGMAS = 3.0


class QKDInputError(ValueError):
    """A DI-QKD parameter is outside its allowed range."""


def optimal_gamma(*, settings: int, noise: float, rounds: int, eps: float) -> float:
    """The test-round probability gamma that ``bellbox qkd --gamma auto`` uses.

    The gamma maximising the expected finite key of eq. (17) at ``rounds`` for the honest
    device with white noise ``noise`` (:func:`protocols.qkd.keyrate.expected_key_length`); when
    ``rounds`` is too small for any expected estimation or raw-key round, the gamma maximising
    the asymptotic rate of eq. (21) (:func:`protocols.qkd.keyrate.asymptotic_rate`). Gamma is
    public and affects only efficiency: any value in (0, 1) gives a secure run.
    """
    try:
        return expected_key_length(settings=settings, noise=noise, rounds=rounds, eps=eps).gamma
    except KeyRateInputError:
        return asymptotic_rate(settings=settings, noise=noise).gamma


@dataclass(frozen=True)
class QKDParameters:
    """Parameters of one run, with the CLI's defaults (``bellbox qkd``).

    ``eps`` is the privacy-amplification security parameter of eq. (17); ``eps_erco`` bounds the
    probability that error correction accepts a wrong key (eq. (67)). The total distance from an
    ideal key is ``eps + 2 eps_erco`` (eq. (68)). ``gamma="auto"`` (the default) is replaced at
    construction by :func:`optimal_gamma` for ``(settings, noise, rounds, eps)``; ``noise`` is
    the white noise xi expected of the device and is used for nothing else.
    """

    rounds: int
    settings: int = 7
    gamma: float | str = "auto"
    eps: float = 1e-9
    eps_erco: float = 1e-10
    error_rate: float | None = None  # None: estimate from W-bar (honest model)
    noise: float = 0.0
    adversary: str = "no-signaling"

    def __post_init__(self) -> None:
        if not isinstance(self.rounds, (int, np.integer)) or self.rounds < 1:
            raise QKDInputError(f"rounds must be an integer >= 1, got {self.rounds!r}")
        if not isinstance(self.settings, (int, np.integer)) or self.settings < 2:
            raise QKDInputError(f"settings (M) must be an integer >= 2, got {self.settings!r}")
        if not 0.0 <= self.noise <= 1.0:
            raise QKDInputError(f"noise (xi) must be in [0, 1], got {self.noise}")
        for name in ("eps", "eps_erco"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise QKDInputError(f"{name} must be in (0, 1), got {value}")
        if isinstance(self.gamma, str):
            if self.gamma != "auto":
                raise QKDInputError(f"gamma must be 'auto' or a number in (0, 1), got {self.gamma!r}")
            object.__setattr__(self, "gamma", optimal_gamma(settings=int(self.settings), noise=self.noise,
                                                            rounds=int(self.rounds), eps=self.eps))
        if not 0.0 < self.gamma < 1.0:
            raise QKDInputError(f"gamma must be in (0, 1), got {self.gamma}")
        if self.adversary not in ADVERSARIES:
            raise QKDInputError(f"adversary must be one of {', '.join(ADVERSARIES)}, got {self.adversary!r}")
        if self.error_rate is not None and not 0.0 <= self.error_rate < 0.5:
            raise QKDInputError(f"error_rate must be in [0, 0.5), got {self.error_rate}")

    @property
    def total_eps(self) -> float:
        """``eps + 2 eps_erco``, the composable security parameter of eq. (68)."""
        return self.eps + 2.0 * self.eps_erco


@dataclass(frozen=True)
class QKDResult(ProtocolResult):
    """Everything a reader needs to check the security claim of one run.

    The shared result vocabulary (:mod:`protocols.results`): ``status`` is ``"key"`` or
    ``"aborted"``, ``success`` is ``status == "key"``, ``message`` is ``reason`` and
    ``randomness`` is ``"os"`` or ``"seeded (not secure)"`` (``seed`` says which seed).
    ``key_a`` / ``key_b`` hold the keys (``key_length`` bits, packed big-endian, the last byte
    zero-padded); they are left out of :meth:`to_dict`.
    """

    SUCCESS_STATUS: ClassVar[str] = "key"
    PRIVATE_FIELDS: ClassVar[tuple[str, ...]] = ("key_a", "key_b")
    #: Fields known to Bob only and not covered by the certificate (module docstring).
    LOCAL_ONLY: ClassVar[tuple[str, ...]] = ("qber", "timings")

    status: str  # "key" or "aborted"
    reason: str
    rounds: int
    settings: int
    gamma: float
    estimation_rounds: int
    raw_key_rounds: int
    bell_value: float | None
    local_bound: float
    error_rate_estimate: float | None
    qber: float | None
    leaked_bits: int
    key_length: int
    eps: float
    eps_erco: float
    total_eps: float
    secure_randomness: bool
    seed: int | None = None
    adversary: str = "no-signaling"
    key_length_terms: dict[str, Any] | None = None
    reconciliation: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    key_a: bytes = field(default=b"", repr=False)
    key_b: bytes = field(default=b"", repr=False)

    @property
    def secure(self) -> bool:
        """Whether the protocol randomness is the OS CSPRNG (same as ``secure_randomness``)."""
        return self.secure_randomness

    @property
    def output_bits(self) -> int:
        """The shared name of ``key_length`` (README, "Result fields")."""
        return self.key_length

    @property
    def adversary_model(self) -> str:
        """``"no-signaling"`` (eq. (17)) or ``"quantum"`` (Appendix A key length)."""
        return self.adversary

    @property
    def theorem(self) -> str:
        """The statement behind the key length of :attr:`adversary`."""
        return THEOREMS[self.adversary]

    def _json_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Adds ``local_only``: the names that must not be published with the key."""
        return {**fields, "local_only": list(self.LOCAL_ONLY)}


@dataclass(frozen=True)
class RoundChoices:
    """Step 1's public choices: test bits and settings, one entry per round."""

    alice_test: np.ndarray
    bob_test: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @property
    def inputs(self) -> np.ndarray:
        return np.stack([self.x, self.y], axis=1)


def choose_settings(rounds: int, settings: int, gamma: float, randomness: Randomness) -> RoundChoices:
    """Step 1: I, J i.i.d. with P(1) = gamma; X = 0 if I = 0 else uniform; Y = M if J = 0 else uniform."""
    dtype = np.uint8 if settings < 255 else np.int32
    alice_test = randomness.bernoulli(gamma, rounds)
    bob_test = randomness.bernoulli(gamma, rounds)
    x = np.where(alice_test == 1, randomness.integers(settings, rounds), 0).astype(dtype)
    y = np.where(bob_test == 1, randomness.integers(settings, rounds), settings).astype(dtype)
    return RoundChoices(alice_test, bob_test, x, y)


def collect_records(
    device: Any,
    params: QKDParameters,
    randomness: Randomness,
    progress: Callable[[int], None] | None = None,
    control: RunControl | None = None,
) -> QKDRecords:
    """Run step 1 on ``device`` (any ``measure(inputs) -> outputs`` two-party box) in jobs.

    The settings are drawn first, then measured in bounded jobs by
    :func:`qdevices.jobs.measure_in_jobs`, which checkpoints and retries as ``control`` says.
    On resume the choices are still drawn (so the protocol randomness is at the same position
    for steps 2-4 as in an uninterrupted run) but the checkpoint's choices are measured; with
    seeded randomness they must be equal, which checks that the seed and parameters match.
    """
    control = control if control is not None else RunControl()
    choices = choose_settings(params.rounds, params.settings, params.gamma, randomness)
    context = {"alice_test": choices.alice_test, "bob_test": choices.bob_test}
    metadata = {"protocol": "diqkd", "parameters": asdict(params), **control.metadata}
    run = measure_in_jobs(device, choices.inputs, replace(control, metadata=metadata), context, progress)
    if control.resume is not None:
        if run.inputs.shape[0] != params.rounds:
            raise QKDInputError(f"rounds: the checkpoint has {run.inputs.shape[0]} rounds, the parameters {params.rounds}")
        kept = (run.context["alice_test"], run.context["bob_test"], run.inputs)
        drawn = (choices.alice_test, choices.bob_test, choices.inputs)
        if not randomness.secure and not all(np.array_equal(a, b) for a, b in zip(kept, drawn)):
            raise QKDInputError("resume: the checkpoint's settings differ from those drawn with this seed and "
                                "these parameters; resume with the seed and parameters of the original run")
    return QKDRecords(params.settings, run.context["alice_test"], run.context["bob_test"], run.inputs[:, 0],
                      run.inputs[:, 1], run.outputs[:, 0], run.outputs[:, 1])


def estimate_error_rate(bell_value: float, estimation_rounds: int, settings: int) -> float:
    """Key-pair error rate implied by an upper confidence value of W-bar under the honest model.

    ``W_up = W-bar + 3 sqrt(W-bar (1 - W-bar) / N_e)``; inverting eq. (26) gives
    ``xi = (W_up - s) / (1/2 - s)`` with ``s = sin^2(pi/4M)``; ``lambda = xi/2`` (Sec. III C).
    Used to choose the error-correcting code only.
    """
    spread = math.sqrt(max(bell_value * (1.0 - bell_value), 1.0 / estimation_rounds) / estimation_rounds)
    upper = bell_value + ESTIMATE_SIGMAS * spread
    ideal = math.sin(math.pi / (4 * settings)) ** 2
    noise = min(max((upper - ideal) / (0.5 - ideal), 0.0), 1.0)
    return min(noise / 2.0, 0.49)


def _pack(bits: np.ndarray) -> bytes:
    return np.packbits(bits).tobytes()


def key_length_for(adversary: str, **counts: Any):
    """The key length of the adversary model: eq. (17) (:func:`finite_key_length`) against
    no-signalling adversaries, Appendix A (:func:`quantum_key_length`, docs/quantum_chained_key.md)
    against quantum adversaries. Both take the same public counts and return ``.bits``."""
    return (quantum_key_length if adversary == "quantum" else finite_key_length)(**counts)


def distill_key(records: QKDRecords, params: QKDParameters, randomness: Randomness) -> QKDResult:
    """Steps 2-4 on recorded rounds; returns the keys or the reason for aborting."""
    if records.settings != params.settings:
        raise QKDInputError(f"records have settings M={records.settings}, parameters M={params.settings}")
    clock = time.perf_counter()
    timings: dict[str, float] = {}
    m = params.settings
    base = dict(
        rounds=records.rounds,
        settings=m,
        gamma=params.gamma,
        local_bound=1.0 / (2 * m),
        eps=params.eps,
        eps_erco=params.eps_erco,
        total_eps=params.total_eps,
        secure_randomness=randomness.secure,
        seed=randomness.seed,
        adversary=params.adversary,
        timings=timings,
    )

    # Step 2: estimation (eqs. (12)-(14))
    both_test = (records.alice_test == 1) & (records.bob_test == 1)
    estimation = both_test & in_estimation_support(records.x, records.y, m)
    raw = (records.alice_test == 0) & (records.bob_test == 0)
    n_e, n_r = int(estimation.sum()), int(raw.sum())
    w = bell_indicator(records.a[estimation], records.b[estimation], records.x[estimation], records.y[estimation], m)
    bell_value = float(w.mean()) if n_e else None
    alice_raw, bob_raw = records.a[raw].astype(np.uint8), records.b[raw].astype(np.uint8)
    timings["estimation"] = time.perf_counter() - clock
    base.update(estimation_rounds=n_e, raw_key_rounds=n_r, bell_value=bell_value)

    def aborted(reason: str, **extra: Any) -> QKDResult:
        fields = dict(base, status="aborted", reason=reason, error_rate_estimate=None, qber=None,
                      leaked_bits=0, key_length=0)
        fields.update(extra)
        return QKDResult(**fields)

    if n_e == 0 or n_r == 0:
        return aborted(f"no {'estimation' if n_e == 0 else 'raw-key'} rounds (N_e={n_e}, N_r={n_r}); use more rounds")

    lam = params.error_rate if params.error_rate is not None else estimate_error_rate(bell_value, n_e, m)
    planned_leak = error_correction_leakage(n_r, lam, params.eps_erco)
    planned = key_length_for(params.adversary, bell_value=bell_value, settings=m, rounds=records.rounds, estimation_rounds=n_e,
                                raw_key_rounds=n_r, leaked_bits=planned_leak, eps=params.eps)
    if planned.bits == 0:
        return aborted(_no_key_reason(bell_value, m, records.rounds, params, lam),
                       error_rate_estimate=lam, key_length_terms=planned.to_dict())

    # Step 3: one-way error correction with hash verification
    clock = time.perf_counter()
    corrected = reconcile(alice_raw, bob_raw, error_rate=lam, eps_erco=params.eps_erco, randomness=randomness)
    timings["error_correction"] = time.perf_counter() - clock
    summary = {k: v for k, v in asdict(corrected).items() if k != "corrected"}
    if not corrected.success:
        return aborted(f"error correction failed: {corrected.message}", error_rate_estimate=lam,
                       leaked_bits=corrected.leaked_bits, reconciliation=summary)
    qber = float(np.count_nonzero(corrected.corrected != bob_raw) / n_r)

    # Step 4: privacy amplification to N_s(W-bar) bits, eq. (17)
    length = key_length_for(params.adversary, bell_value=bell_value, settings=m, rounds=records.rounds, estimation_rounds=n_e,
                               raw_key_rounds=n_r, leaked_bits=corrected.leaked_bits, eps=params.eps)
    if length.bits == 0:
        return aborted(_no_key_reason(bell_value, m, records.rounds, params, lam), error_rate_estimate=lam, qber=qber,
                       leaked_bits=corrected.leaked_bits, key_length_terms=length.to_dict(), reconciliation=summary)
    clock = time.perf_counter()
    seed = randomness.bits(n_r + length.bits - 1)
    key_a = toeplitz_hash(alice_raw, seed, length.bits)
    key_b = toeplitz_hash(corrected.corrected, seed, length.bits)
    timings["privacy_amplification"] = time.perf_counter() - clock
    return QKDResult(
        **base,
        status="key",
        reason="",
        error_rate_estimate=lam,
        qber=qber,
        leaked_bits=corrected.leaked_bits,
        key_length=length.bits,
        key_length_terms=length.to_dict(),
        reconciliation=summary,
        key_a=_pack(key_a),
        key_b=_pack(key_b),
    )


def _no_key_reason(bell_value: float, settings: int, rounds: int, params: QKDParameters,
                   error_rate: float) -> str:
    """Why the key length of ``params.adversary`` is zero, and how many rounds the observed Bell
    value (and, for the quantum model, the error-rate estimate) would need."""
    eps = params.eps
    ideal = math.sin(math.pi / (4 * settings)) ** 2
    if bell_value >= 1.0 / (2 * settings):
        return (f"W-bar = {bell_value:.5f} does not violate the Bell inequality (local bound 1/(2M) = "
                f"{1 / (2 * settings):.5f}): no key can be certified")
    if params.adversary == "quantum":
        needed = rounds_for_key_from_statistics(settings=settings, bell_value=bell_value,
                                                error_rate=error_rate, eps=eps, adversary="quantum")
        if needed is None:
            return (f"W-bar = {bell_value:.5f} is above the quantum-adversary key threshold for M={settings}: "
                    "no number of rounds gives a key")
        return (f"N_s^Q(W-bar) = 0 at N = {rounds} (W-bar = {bell_value:.5f}); a key needs about N >= {needed} "
                "rounds at this Bell value")
    noise = min(max((bell_value - ideal) / (0.5 - ideal), 0.0), 1.0)
    needed = rounds_for_key(settings=settings, noise=noise, eps=eps)
    if needed is None:
        return (f"W-bar = {bell_value:.5f} (noise-equivalent xi = {noise:.4f}) is above the key threshold "
                f"for M={settings}: no number of rounds gives a key")
    return (f"N_s(W-bar) = 0 at N = {rounds} (W-bar = {bell_value:.5f}); a key needs about N >= {needed} "
            f"rounds at this Bell value with gamma optimised (--gamma auto)")


def run_diqkd(
    device: Any,
    params: QKDParameters,
    randomness: Randomness | None = None,
    progress: Callable[[int], None] | None = None,
    control: RunControl | None = None,
) -> QKDResult:
    """Steps 1-4 end to end on ``device``; protocol randomness from the OS CSPRNG by default.

    ``control`` sets job size, checkpoint, resume and retries (:mod:`qdevices.jobs`).
    """
    randomness = randomness if randomness is not None else Randomness()
    clock = time.perf_counter()
    records = collect_records(device, params, randomness, progress, control)
    devices_seconds = time.perf_counter() - clock
    result = distill_key(records, params, randomness)
    result.timings["devices"] = devices_seconds
    return result
