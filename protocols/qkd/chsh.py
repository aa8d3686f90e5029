r"""The CHSH device-independent QKD protocol with an entropy-accumulation key (issue 11, item 3).

Steps (security argument: docs/chsh_entropy_accumulation.md; key length:
:mod:`protocols.qkd.chsh_keyrate`):

0. *Plan* (:class:`CHSHParameters`): before any round, fix the test probability gamma, the
   min-tradeoff tangent point w_t, the acceptance threshold w_thr on the CHSH winning
   probability, the cap m on the number of test rounds, the design error rate of error correction
   and the split of eps (and the Renyi parameter alpha when the plan uses the second-order statement).
   All are public and data-independent; the certified key length l is fixed with them, the larger of
   the two entropy-accumulation statements (:func:`protocols.qkd.chsh_keyrate.plan_chsh`; the result's
   ``theorem`` names the one used).
1. *Rounds* (:func:`choose_chsh_settings`, :func:`collect_chsh_records`): T_i ~ Bernoulli(gamma);
   test rounds (T = 1) have x, y uniform in {0, 1}; key rounds x = 0, y = 2. Records are
   :class:`protocols.records.QKDRecords` with settings M = 2 and ``alice_test = bob_test = T``.
2. *Estimation*: Alice and Bob publish their test-round outputs; the round is won when
   ``a XOR b = [x = 0 and y = 1]`` (``W = 0`` of :func:`protocols.bell.chained.bell_indicator`
   for M = 2; ``S = 8 w - 4``). Abort unless ``#tests <= m`` and ``#wins >= gamma n w_thr``.
3. *Error correction*: the raw keys are the n-bit strings ``R_A = A`` on key rounds and 0 on
   test rounds (``R_B`` likewise): their length and so the syndrome length are fixed before the
   run. One-way LDPC syndrome + hash tag (:func:`protocols.qkd.reconciliation.reconcile`); every
   published bit is counted; the accept flag costs 1 more bit.
4. *Privacy amplification*: Toeplitz hashing of ``R_A`` and Bob's corrected ``R_B`` to l bits.

Security: secret to ``eps = eps_EA + 2 eps_s + eps_PA`` and correct to ``eps_erco``, against a
quantum adversary, with devices that may have memory (entropy accumulation); see
:data:`protocols.qkd.chsh_keyrate.DEVICE_ASSUMPTION`. The QBER and the timings are local to Bob
(``local_only``); everything else in :meth:`CHSHResult.to_dict` is public.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from extractors import toeplitz_hash, toeplitz_seed_length
from qdevices import Randomness

from protocols.bell.chained import bell_indicator
from protocols.errors import BellboxInputError
from protocols.qkd.chsh_keyrate import (ADVERSARY, DEVICE_ASSUMPTION, FLAG_BITS, MIN_GAMMA,
                                        QUANTUM_WINNING_PROBABILITY, THEOREM, CHSHPlan, chsh_value,
                                        honest_statistics, plan_chsh, plan_key_length)
from protocols.qkd.reconciliation import MIN_DESIGN_ERROR_RATE, error_correction_leakage, reconcile
from protocols.records import QKDRecords, records_sha256
from protocols.results import KeyResult

#: Alice has x in {0, 1}; Bob y in {0, 1} (test) and y = 2 (key), the chained device with M = 2.
SETTINGS = 2
#: Rounds measured per call of ``device.measure`` (bounded memory).
CHUNK_ROUNDS = 1 << 20
#: Relative margin of the default design error rate over the honest QBER xi/2 (efficiency only).
DESIGN_MARGIN = 1.25


class CHSHInputError(BellboxInputError):
    """A CHSH protocol parameter is outside its allowed range."""


@dataclass(frozen=True)
class CHSHParameters:
    """Parameters of one run (CLI-like defaults); everything of step 0 is fixed at construction.

    ``noise`` is the white noise xi expected of the device: it sets the plan (threshold, gamma,
    design error rate) and nothing else; a device worse than planned aborts, it is never given a
    longer key. ``eps`` is the secrecy parameter (trace distance, split by the planner),
    ``eps_erco`` the correctness parameter; ``eps_completeness`` bounds the probability that an
    honest device as planned aborts at the tests of step 2.
    """

    rounds: int
    gamma: float | str = "auto"
    noise: float = 0.0
    eps: float = 1e-9
    eps_erco: float = 1e-10
    eps_completeness: float = 1e-3
    error_rate: float | None = None
    adversary: str = ADVERSARY
    plan: CHSHPlan | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, (int, np.integer)) or self.rounds < 1:
            raise CHSHInputError(f"rounds must be an integer >= 1, got {self.rounds!r}")
        if self.adversary != ADVERSARY:
            raise CHSHInputError(f"adversary must be 'quantum' for the CHSH protocol (its key rests on "
                                 f"entropy accumulation against quantum adversaries), got {self.adversary!r}")
        if not 0.0 <= self.noise <= 1.0:
            raise CHSHInputError(f"noise (xi) must be in [0, 1], got {self.noise}")
        for name in ("eps", "eps_erco", "eps_completeness"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise CHSHInputError(f"{name} must be in (0, 1), got {value}")
        if self.error_rate is not None and not 0.0 <= self.error_rate < 0.5:
            raise CHSHInputError(f"error_rate must be in [0, 0.5), got {self.error_rate}")
        if isinstance(self.gamma, str):
            if self.gamma != "auto":
                raise CHSHInputError(f"gamma must be 'auto' or a number in (0, 1), got {self.gamma!r}")
        elif not MIN_GAMMA <= self.gamma < 1.0:
            raise CHSHInputError(f"gamma must be 'auto' or a number in [{MIN_GAMMA:g}, 1), got {self.gamma}")
        winning, _ = honest_statistics(self.noise)
        plan = plan_chsh(rounds=int(self.rounds), winning=winning, leaked_bits=self.planned_leak,
                         eps=self.eps, eps_completeness=self.eps_completeness,
                         gamma=None if self.gamma == "auto" else float(self.gamma))
        object.__setattr__(self, "plan", plan)
        object.__setattr__(self, "gamma", plan.gamma)

    @property
    def design_error_rate(self) -> float:
        """The error rate the code is built for: ``error_rate``, else ``1.25 xi/2`` (at least
        1e-3 when xi > 0). Public, fixed before the run; affects efficiency only."""
        if self.error_rate is not None:
            return float(self.error_rate)
        return 0.0 if self.noise == 0.0 else max(DESIGN_MARGIN * self.noise / 2.0, MIN_DESIGN_ERROR_RATE)

    @property
    def planned_leak(self) -> int:
        """Syndrome + tag bits of the n-bit padded raw key (fixed by n, the design rate, eps_erco)."""
        return error_correction_leakage(int(self.rounds), self.design_error_rate, self.eps_erco)

    @property
    def total_eps(self) -> float:
        """``eps + eps_erco``: secrecy plus correctness."""
        return self.eps + self.eps_erco


@dataclass(frozen=True)
class CHSHResult(KeyResult):
    """Everything a reader needs to check the security claim of one CHSH run.

    Shared vocabulary (:mod:`protocols.results`): ``status`` is ``"key"`` or ``"aborted"``;
    ``key_a``/``key_b`` (``key_length`` bits, packed big-endian) are left out of :meth:`to_dict`;
    ``key_length_terms`` lists every term of the key length (:class:`~protocols.qkd.chsh_keyrate.CHSHKeyLength`).
    """

    PROTOCOL: ClassVar[str] = "chsh"
    ADVERSARY_MODEL: ClassVar[str] = ADVERSARY
    THEOREM: ClassVar[str] = THEOREM

    status: str
    reason: str
    rounds: int
    gamma: float
    test_rounds: int
    test_round_cap: int
    raw_key_rounds: int
    wins: int
    winning_frequency: float | None
    chsh_value: float | None
    threshold: float
    qber: float | None
    leaked_bits: int
    key_length: int
    eps: float
    eps_erco: float
    total_eps: float
    secure_randomness: bool
    seed: int | None = None
    device_assumption: str = DEVICE_ASSUMPTION
    note: str = ""
    key_length_terms: dict[str, Any] | None = None
    reconciliation: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: SHA-256 fingerprint of the rounds distilled (:func:`protocols.records.records_sha256`).
    raw_records_sha256: str = ""
    #: Where the rounds came from (the device's ``provenance``); None for recorded rounds.
    device_run: dict[str, Any] | None = None
    key_a: bytes = field(default=b"", repr=False)
    key_b: bytes = field(default=b"", repr=False)

    @property
    def theorem(self) -> str:
        """The statement the plan's key length rests on (DFR Thm 4.4 or the second-order statement)."""
        return str((self.key_length_terms or {}).get("theorem", self.THEOREM))



@dataclass(frozen=True)
class CHSHChoices:
    """Step 1's public choices, one entry per round."""

    test: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @property
    def inputs(self) -> np.ndarray:
        return np.stack([self.x, self.y], axis=1)


def choose_chsh_settings(rounds: int, gamma: float, randomness: Randomness) -> CHSHChoices:
    """T ~ Bernoulli(gamma) i.i.d.; T = 1: x, y uniform in {0, 1}; T = 0: x = 0, y = 2."""
    test = randomness.bernoulli(gamma, rounds)
    x = np.where(test == 1, randomness.integers(2, rounds), 0).astype(np.uint8)
    y = np.where(test == 1, randomness.integers(2, rounds), SETTINGS).astype(np.uint8)
    return CHSHChoices(test, x, y)


def collect_chsh_records(device: Any, params: CHSHParameters, randomness: Randomness) -> QKDRecords:
    """Step 1 on ``device`` (``measure(inputs) -> outputs``, e.g. ``ChainedBellDevice(settings=2)``),
    in chunks of :data:`CHUNK_ROUNDS` rounds."""
    choices = choose_chsh_settings(params.rounds, params.gamma, randomness)
    inputs = choices.inputs
    outputs = np.concatenate([np.asarray(device.measure(inputs[start:start + CHUNK_ROUNDS]), dtype=np.uint8)
                              for start in range(0, params.rounds, CHUNK_ROUNDS)])
    return QKDRecords(SETTINGS, choices.test, choices.test, choices.x, choices.y, outputs[:, 0], outputs[:, 1])


def chsh_wins(records: QKDRecords) -> np.ndarray:
    """1 where a test round wins the CHSH game (``W = 0`` for M = 2), over the test rounds only."""
    test = records.alice_test == 1
    return 1 - bell_indicator(records.a[test], records.b[test], records.x[test], records.y[test], SETTINGS)


def distill_chsh_key(records: QKDRecords, params: CHSHParameters, randomness: Randomness) -> CHSHResult:
    """Steps 2-4 on recorded rounds; returns the keys or the reason for aborting."""
    if records.settings != SETTINGS:
        raise CHSHInputError(f"records must have settings M = {SETTINGS} (the CHSH bases), got {records.settings}")
    if not np.array_equal(records.alice_test, records.bob_test):
        raise CHSHInputError("records: alice_test and bob_test must be equal (one test bit T per round)")
    if records.rounds != params.rounds:
        raise CHSHInputError(f"records have {records.rounds} rounds, the parameters {params.rounds}")
    plan = params.plan
    clock = time.perf_counter()
    timings: dict[str, float] = {}
    wins_mask = chsh_wins(records)
    n, tests, wins = records.rounds, int(records.alice_test.sum()), int(wins_mask.sum())
    frequency = wins / tests if tests else None
    note = ""
    if frequency is not None and frequency > QUANTUM_WINNING_PROBABILITY:
        note = (f"observed winning frequency {frequency:.6f} exceeds the quantum maximum "
                f"{QUANTUM_WINNING_PROBABILITY:.6f}: these statistics are not quantum; the certificate assumes "
                "quantum devices and its min-tradeoff function is used only up to the quantum maximum (clamped)")
    key_terms = plan_key_length(plan, params.planned_leak)
    base = dict(raw_records_sha256=records_sha256(records), rounds=n, gamma=plan.gamma, test_rounds=tests, test_round_cap=plan.test_round_cap,
                raw_key_rounds=n - tests, wins=wins, winning_frequency=frequency,
                chsh_value=None if frequency is None else float(chsh_value(frequency)), threshold=plan.threshold,
                eps=params.eps, eps_erco=params.eps_erco, total_eps=params.total_eps,
                secure_randomness=randomness.secure, seed=randomness.seed, note=note,
                key_length_terms=key_terms.to_dict(), timings=timings)
    timings["estimation"] = time.perf_counter() - clock

    def aborted(reason: str, **extra: Any) -> CHSHResult:
        return CHSHResult(**{**base, "status": "aborted", "reason": reason, "qber": None, "leaked_bits": 0,
                             "key_length": 0, **extra})

    if key_terms.bits == 0:
        return aborted(f"the plan certifies no key at N = {n} (gamma = {plan.gamma:.4g}, planned noise "
                       f"xi = {params.noise:g}); use more rounds")
    if tests > plan.test_round_cap:
        return aborted(f"{tests} test rounds exceed the planned cap m = {plan.test_round_cap}")
    needed = math.ceil(plan.gamma * n * plan.threshold)
    if wins < plan.gamma * n * plan.threshold:
        shown = "none" if frequency is None else f"{frequency:.5f} (S = {chsh_value(frequency):.4f})"
        return aborted(f"CHSH test failed: {wins} wins, at least {needed} needed (gamma n w_thr with w_thr = "
                       f"{plan.threshold:.5f}, S = {chsh_value(plan.threshold):.4f}); winning frequency {shown}")

    clock = time.perf_counter()
    key_round = records.alice_test == 0
    alice_raw = np.where(key_round, records.a, 0).astype(np.uint8)
    bob_raw = np.where(key_round, records.b, 0).astype(np.uint8)
    corrected = reconcile(alice_raw, bob_raw, error_rate=params.design_error_rate, eps_erco=params.eps_erco,
                          randomness=randomness)
    timings["error_correction"] = time.perf_counter() - clock
    summary = {k: v for k, v in asdict(corrected).items() if k != "corrected"}
    if not corrected.success:
        return aborted(f"error correction failed: {corrected.message}", leaked_bits=corrected.leaked_bits,
                       reconciliation=summary)
    if corrected.leaked_bits != params.planned_leak:
        raise RuntimeError(f"reconciliation published {corrected.leaked_bits} bits, planned {params.planned_leak}")
    qber = float(np.count_nonzero(corrected.corrected[key_round] != bob_raw[key_round]) / max(n - tests, 1))

    clock = time.perf_counter()
    seed = randomness.bits(toeplitz_seed_length(n, key_terms.bits))
    key_a = toeplitz_hash(alice_raw, seed, key_terms.bits)
    key_b = toeplitz_hash(corrected.corrected, seed, key_terms.bits)
    timings["privacy_amplification"] = time.perf_counter() - clock
    return CHSHResult(**base, status="key", reason="", qber=qber, leaked_bits=corrected.leaked_bits + FLAG_BITS,
                      key_length=key_terms.bits, reconciliation=summary,
                      key_a=np.packbits(key_a).tobytes(), key_b=np.packbits(key_b).tobytes())


def run_chsh(device: Any, params: CHSHParameters, randomness: Randomness | None = None) -> CHSHResult:
    """Steps 1-4 end to end on ``device``; protocol randomness from the OS CSPRNG by default."""
    randomness = randomness if randomness is not None else Randomness()
    clock = time.perf_counter()
    records = collect_chsh_records(device, params, randomness)
    devices_seconds = time.perf_counter() - clock
    result = distill_chsh_key(records, params, randomness)
    result.timings["devices"] = devices_seconds
    return replace(result, device_run={**getattr(device, "provenance", {}), "rounds": records.rounds})
