"""Device-independent QKD secure against no-signaling adversaries (paper 000, Sec. III A).

Steps (the paper's numbering):

1. *Distribution and measurements* (:func:`choose_settings`, :func:`collect_tallies`): i.i.d.
   test bits I, J with P(1) = gamma from the protocol randomness; I = 0 gives X = 0, I = 1 a
   uniform X in {0..M-1}; J = 0 gives Y = M, J = 1 a uniform Y in {0..M-1}.
2. *Estimation*: N_e = {n : I_n = J_n = 1, (X_n - Y_n) mod M in {0, 1}} (eq. (12)),
   W-bar = mean of W_n over N_e (eq. (13)); N_r = {n : I_n = J_n = 0} (eq. (14)).
3. *Error correction*: one-way LDPC syndrome coding plus a t-bit two-universal hash tag
   (:mod:`protocols.qkd.reconciliation`); N_c counts every published bit about A_r; the
   probability of accepting B'_r != A_r is at most eps_erco = 2^-t.
4. *Privacy amplification*: Toeplitz hashing (two-universal, Definition 5) of A_r and B'_r to
   N_s(W-bar) bits, eq. (17) with the minimum over theta (:mod:`protocols.qkd.keyrate`).

Steps 1-2 are streamed: each job's settings are drawn, measured and folded into
:class:`RoundTallies` (N_e, the sum of W over N_e, N_r, and the raw-key bits of Alice and Bob,
packed), so a run of any N holds one job plus N_r bits (:func:`collect_tallies`);
:func:`collect_records` keeps every round instead, for analysis and records files.

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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, ClassVar

import numpy as np

from extractors import toeplitz_hash
from qdevices import Randomness
from qdevices.jobs import DeviceRun, RunControl, run_jobs

from protocols.bell.chained import bell_indicator, in_estimation_support
from protocols.qkd.error_rate import estimate_error_rate
from protocols.qkd.keyrate import (KeyRateInputError, asymptotic_rate, expected_key_length, finite_key_length,
                                   rounds_for_key)
from protocols.qkd.quantum_keyrate import ADVERSARIES, quantum_key_length, rounds_for_key_from_statistics
from protocols.qkd.reconciliation import error_correction_leakage, reconcile
from protocols.records import QKDRecords, RecordsFingerprint, iter_records
from protocols.results import KeyResult

#: The statement each adversary model's key rests on.
THEOREMS = {
    "no-signaling": "paper 000 Theorem 9 (eq. (68)); key length eq. (17) with min over theta",
    "quantum": ("paper 000 Appendix A (Lemma 10, eq. (A2)) with Koenig-Renner-Schaffner 2009 and the quantum "
                "leftover hash lemma; key length N_s^Q of docs/quantum_chained_key.md; assumes memoryless "
                "devices (no-signalling between all 2N measurements)"),
}


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
class QKDResult(KeyResult):
    """Everything a reader needs to check the security claim of one run.

    The shared result vocabulary (:mod:`protocols.results`): ``status`` is ``"key"`` or
    ``"aborted"``, ``success`` is ``status == "key"``, ``message`` is ``reason`` and
    ``randomness`` is ``"os"`` or ``"seeded (not secure)"`` (``seed`` says which seed).
    ``key_a`` / ``key_b`` hold the keys (``key_length`` bits, packed big-endian, the last byte
    zero-padded); they are left out of :meth:`to_dict`.
    """

    PROTOCOL: ClassVar[str] = "chained"

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
    adversary_model: str = "no-signaling"  # "no-signaling" (eq. (17)) or "quantum" (Appendix A)
    key_length_terms: dict[str, Any] | None = None
    reconciliation: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: Where the rounds came from: the device's ``provenance`` (backend, execution mode,
    #: hardware or emulation, layout, calibration, job ids) and the job summary
    #: (:func:`device_run_provenance`); ``None`` for recorded rounds.
    device_run: dict[str, Any] | None = None
    key_a: bytes = field(default=b"", repr=False)
    key_b: bytes = field(default=b"", repr=False)

    @property
    def theorem(self) -> str:
        """The statement behind the key length of :attr:`adversary_model`."""
        return THEOREMS[self.adversary_model]


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
    """Step 1: I, J i.i.d. with P(1) = gamma; X = 0 if I = 0 else uniform; Y = M if J = 0 else uniform.

    P(I = 1) is exactly the binary64 value ``gamma`` and X, Y are exactly uniform
    (:meth:`qdevices.Randomness.bernoulli`, :meth:`~qdevices.Randomness.integers`). A uniform
    setting is drawn for every round (about one byte each) and replaced by the fixed key setting
    where the test bit is 0 (few rounds at the gammas used): one pass instead of scattering the
    test rounds' draws. The discarded draws are independent of everything kept.
    """
    alice_test = randomness.bernoulli(gamma, rounds)
    bob_test = randomness.bernoulli(gamma, rounds)
    x = randomness.integers(settings, rounds)
    x *= alice_test  # X = 0 where I = 0
    y = randomness.integers(settings, rounds)
    if np.iinfo(y.dtype).max < settings:  # M = 256, 65536, ...: Y = M needs the next width
        y = y.astype(np.min_scalar_type(settings))
    y[bob_test == 0] = settings
    return RoundChoices(alice_test, bob_test, x, y)


class PackedBits:
    """A bit string appended to in pieces and stored packed (8 bits per byte)."""

    def __init__(self) -> None:
        self._packed: list[np.ndarray] = []
        self._tail = np.zeros(0, dtype=np.uint8)
        self.size = 0

    def append(self, bits: np.ndarray) -> None:
        self.size += int(np.shape(bits)[0])
        bits = np.concatenate([self._tail, np.asarray(bits, dtype=np.uint8)])
        whole = bits.size - bits.size % 8
        self._packed.append(np.packbits(bits[:whole]))
        self._tail = bits[whole:].copy()

    def bits(self) -> np.ndarray:
        """The whole string as a 0/1 ``uint8`` array."""
        return np.concatenate([np.unpackbits(np.concatenate(self._packed or [np.zeros(0, np.uint8)])), self._tail])


@dataclass
class RoundTallies:
    """What steps 2-4 need from the rounds, accumulated chunk by chunk (:meth:`add`).

    ``estimation_rounds`` is |N_e| (eq. (12)), ``bell_sum`` the sum of W_n over N_e (so
    W-bar = ``bell_sum / estimation_rounds``, eq. (13)), ``raw_key_rounds`` is |N_r| (eq. (14))
    with Alice's and Bob's raw bits A_r, B_r in round order; ``alice_tests`` counts I_n = 1
    (gamma of a records file) and ``fingerprint`` is the records' SHA-256
    (:class:`protocols.records.RecordsFingerprint`).
    """

    settings: int
    rounds: int = 0
    alice_tests: int = 0
    estimation_rounds: int = 0
    bell_sum: int = 0
    alice_raw: PackedBits = field(default_factory=PackedBits)
    bob_raw: PackedBits = field(default_factory=PackedBits)
    fingerprint: RecordsFingerprint | None = None
    _pair_codes: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.fingerprint is None:
            self.fingerprint = RecordsFingerprint(self.settings)

    @classmethod
    def of(cls, records: QKDRecords) -> "RoundTallies":
        tallies = cls(records.settings)
        tallies.add(records.alice_test, records.bob_test, records.x, records.y, records.a, records.b)
        return tallies

    def add(self, alice_test, bob_test, x, y, a, b) -> None:
        """Fold one chunk of rounds into the tallies (eqs. (12)-(14)).

        The support test of eq. (12) (bit 0) and the flip ``[x = 0, y = M-1]`` of W (eq. (4),
        bit 1; ``W = a XOR b XOR flip``) are looked up per setting pair ``x (M + 1) + y`` in one
        table built once from :func:`protocols.bell.chained.in_estimation_support` and
        :func:`protocols.bell.chained.bell_indicator`, which is faster than their int64
        arithmetic on every round.
        """
        m = self.settings
        if self._pair_codes is None:
            pairs = np.arange(m * (m + 1))
            grid_x, grid_y, zero = pairs // (m + 1), pairs % (m + 1), np.zeros(pairs.size, np.uint8)
            support = in_estimation_support(grid_x, grid_y, m).astype(np.uint8)
            self._pair_codes = support | (bell_indicator(zero, zero, grid_x, grid_y, m).astype(np.uint8) << 1)
        code = self._pair_codes[np.asarray(x, dtype=np.uint16 if m < 255 else np.int64) * (m + 1) + y]
        alice_test, bob_test = np.asarray(alice_test, dtype=np.uint8), np.asarray(bob_test, dtype=np.uint8)
        estimation = alice_test & bob_test & code  # bit 0 of the code: the support test of eq. (12)
        w = np.asarray(a, dtype=np.uint8) ^ np.asarray(b, dtype=np.uint8) ^ (code >> 1)  # bit 1: the flip
        raw = (alice_test | bob_test) == 0
        self.rounds += int(np.shape(x)[0])
        self.alice_tests += int(np.count_nonzero(alice_test))
        self.estimation_rounds += int(np.count_nonzero(estimation))
        self.bell_sum += int(np.count_nonzero(w & estimation))
        self.alice_raw.append(a[raw])
        self.bob_raw.append(b[raw])
        self.fingerprint.update(alice_test, bob_test, x, y, a, b)

    @property
    def raw_key_rounds(self) -> int:
        return self.alice_raw.size

    @property
    def bell_value(self) -> float | None:
        """W-bar of eq. (13), or None without estimation rounds."""
        return self.bell_sum / self.estimation_rounds if self.estimation_rounds else None


def tally_records_file(path, chunk_rounds: int | None = None) -> RoundTallies:
    """The :class:`RoundTallies` of a records file, read in chunks (:func:`protocols.records.iter_records`)."""
    settings, chunks = iter_records(path, *(() if chunk_rounds is None else (chunk_rounds,)))
    tallies = RoundTallies(settings)
    for chunk in chunks:
        tallies.add(*(chunk[name] for name in ("alice_test", "bob_test", "x", "y", "a", "b")))
    return tallies


@dataclass(frozen=True)
class StreamedRun:
    """Steps 1-2 of a streamed run: the tallies, the job summary and the time per part
    (``settings_randomness``: drawing I, J, X, Y; ``devices``: measuring, checkpoint I/O
    included; ``estimation``: the tallies, as far as the run waited for them: they are folded
    in a background thread, see :func:`collect_tallies`)."""

    tallies: RoundTallies
    device_run: DeviceRun
    timings: dict[str, float]


def _stream_rounds(
    device: Any,
    params: QKDParameters,
    randomness: Randomness,
    consume: Callable[[RoundChoices, np.ndarray], None],
    progress: Callable[[int], None] | None,
    control: RunControl | None,
) -> tuple[DeviceRun, dict[str, float]]:
    """Step 1 in jobs: draw each job's choices, measure them, pass them to ``consume``.

    On resume the choices of finished jobs are still drawn (so the protocol randomness is at
    the same position for steps 3-4 as in an uninterrupted run) but the checkpoint's are
    used; with seeded randomness they must be equal, which checks that the seed and the
    parameters match.
    """
    control = control if control is not None else RunControl()
    metadata = {"protocol": "diqkd", "parameters": asdict(params), **control.metadata}
    timings = {"settings_randomness": 0.0, "devices": 0.0, "estimation": 0.0}

    def draw(job: int, count: int):
        clock = time.perf_counter()
        choices = choose_settings(count, params.settings, params.gamma, randomness)
        timings["settings_randomness"] += time.perf_counter() - clock
        return choices.inputs, {"alice_test": choices.alice_test, "bob_test": choices.bob_test}

    def fold(inputs, context, outputs, drawn) -> None:
        clock = time.perf_counter()
        if control.resume is not None and not randomness.secure:
            kept = (context["alice_test"], context["bob_test"], inputs)
            fresh = (drawn[1]["alice_test"], drawn[1]["bob_test"], drawn[0])
            if not all(np.array_equal(a, b) for a, b in zip(kept, fresh)):
                raise QKDInputError("resume: the checkpoint's settings differ from those drawn with this seed and "
                                    "these parameters; resume with the seed and parameters of the original run")
        consume(RoundChoices(context["alice_test"], context["bob_test"], inputs[:, 0], inputs[:, 1]), outputs)
        timings["estimation"] += time.perf_counter() - clock

    clock = time.perf_counter()
    run = run_jobs(device, params.rounds, draw, fold, replace(control, metadata=metadata), progress)
    timings["devices"] = time.perf_counter() - clock - timings["settings_randomness"] - timings["estimation"]
    return run, timings


def collect_tallies(
    device: Any,
    params: QKDParameters,
    randomness: Randomness,
    progress: Callable[[int], None] | None = None,
    control: RunControl | None = None,
) -> StreamedRun:
    """Steps 1-2 streamed on ``device``: memory O(job size + N_r) whatever ``params.rounds``.

    Jobs, checkpoints, resume and retries as ``control`` says (:func:`qdevices.jobs.run_jobs`).
    Each job's tallies are folded in a background thread while the next job is drawn and
    measured (numpy releases the GIL in its array loops): one job at a time and in job order,
    so the tallies are those of a serial run, and at most one job waits to be folded.
    """
    tallies = RoundTallies(params.settings)
    pending: list[Future] = []

    def finish_fold() -> None:
        if pending:
            pending.pop().result()  # re-raises what the fold raised

    with ThreadPoolExecutor(max_workers=1) as folder:
        def consume(choices: RoundChoices, outputs: np.ndarray) -> None:
            finish_fold()
            pending.append(folder.submit(tallies.add, choices.alice_test, choices.bob_test, choices.x, choices.y,
                                         outputs[:, 0], outputs[:, 1]))

        run, timings = _stream_rounds(device, params, randomness, consume, progress, control)
        clock = time.perf_counter()
        finish_fold()
        timings["estimation"] += time.perf_counter() - clock
    return StreamedRun(tallies, run, timings)


def collect_records(
    device: Any,
    params: QKDParameters,
    randomness: Randomness,
    progress: Callable[[int], None] | None = None,
    control: RunControl | None = None,
) -> QKDRecords:
    """Step 1 on ``device`` (any ``measure(inputs) -> outputs`` two-party box), keeping every
    round in memory (for analysis and records files; :func:`collect_tallies` streams).

    The same jobs and the same random draws as :func:`collect_tallies`, so both give the same
    rounds for the same seeds.
    """
    columns: dict[str, list[np.ndarray]] = {name: [] for name in ("alice_test", "bob_test", "x", "y", "a", "b")}

    def keep(choices: RoundChoices, outputs: np.ndarray) -> None:
        for name, values in (("alice_test", choices.alice_test), ("bob_test", choices.bob_test), ("x", choices.x),
                             ("y", choices.y), ("a", outputs[:, 0]), ("b", outputs[:, 1])):
            columns[name].append(values)

    _stream_rounds(device, params, randomness, keep, progress, control)
    return QKDRecords(params.settings, **{name: np.concatenate(parts) for name, parts in columns.items()})


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
    tallies = RoundTallies.of(records)
    result = distill_tallies(tallies, params, randomness)
    result.timings["estimation"] = time.perf_counter() - clock - sum(result.timings.values())
    return result


def distill_tallies(tallies: RoundTallies, params: QKDParameters, randomness: Randomness) -> QKDResult:
    """Steps 2 (conclusion), 3 and 4 on the tallies of a run; returns the keys or the reason for aborting."""
    if tallies.settings != params.settings:
        raise QKDInputError(f"records have settings M={tallies.settings}, parameters M={params.settings}")
    timings: dict[str, float] = {}
    m = params.settings
    base = dict(
        rounds=tallies.rounds,
        settings=m,
        gamma=params.gamma,
        local_bound=1.0 / (2 * m),
        eps=params.eps,
        eps_erco=params.eps_erco,
        total_eps=params.total_eps,
        secure_randomness=randomness.secure,
        seed=randomness.seed,
        adversary_model=params.adversary,
        timings=timings,
    )

    # Step 2: estimation (eqs. (12)-(14)), from the tallies
    n_e, n_r, bell_value = tallies.estimation_rounds, tallies.raw_key_rounds, tallies.bell_value
    alice_raw, bob_raw = tallies.alice_raw.bits(), tallies.bob_raw.bits()
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
    planned = key_length_for(params.adversary, bell_value=bell_value, settings=m, rounds=tallies.rounds, estimation_rounds=n_e,
                                raw_key_rounds=n_r, leaked_bits=planned_leak, eps=params.eps)
    if planned.bits == 0:
        return aborted(_no_key_reason(bell_value, m, tallies.rounds, params, lam),
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
    length = key_length_for(params.adversary, bell_value=bell_value, settings=m, rounds=tallies.rounds, estimation_rounds=n_e,
                               raw_key_rounds=n_r, leaked_bits=corrected.leaked_bits, eps=params.eps)
    if length.bits == 0:
        return aborted(_no_key_reason(bell_value, m, tallies.rounds, params, lam), error_rate_estimate=lam, qber=qber,
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
    """Why the key length of ``params.adversary`` is zero, and what the observed Bell value
    (and, for the quantum model, the error-rate estimate) allows: no key at any N (above the
    threshold), a key from about N rounds on, or, when that N is not above this run's, a key
    at this N with the gamma optimised for this Bell value but not with this run's counts."""
    eps = params.eps
    ideal = math.sin(math.pi / (4 * settings)) ** 2
    if bell_value >= 1.0 / (2 * settings):
        return (f"W-bar = {bell_value:.5f} does not violate the Bell inequality (local bound 1/(2M) = "
                f"{1 / (2 * settings):.5f}): no key can be certified")
    if params.adversary == "quantum":
        needed = rounds_for_key_from_statistics(settings=settings, bell_value=bell_value,
                                                error_rate=error_rate, eps=eps, adversary="quantum")
        observed, length = f"W-bar = {bell_value:.5f}", "N_s^Q(W-bar)"
        above = f"{observed} is above the quantum-adversary key threshold for M={settings}"
    else:
        noise = min(max((bell_value - ideal) / (0.5 - ideal), 0.0), 1.0)
        needed = rounds_for_key(settings=settings, noise=noise, eps=eps)
        observed, length = f"W-bar = {bell_value:.5f} (noise-equivalent xi = {noise:.4f})", "N_s(W-bar)"
        above = f"{observed} is above the key threshold for M={settings}"
    if needed is None:
        return f"{above}: no number of rounds gives a key"
    if needed > rounds:
        return (f"{length} = 0 at N = {rounds} ({observed}); a key needs about N >= {needed} rounds at this "
                "Bell value with gamma optimised (--gamma auto)")
    return (f"{length} = 0 at N = {rounds} with gamma = {params.gamma:.4g} ({observed}): this Bell value allows a "
            f"key from about N = {needed} rounds only with the gamma optimised for it (and the expected N_e, N_r); "
            "this run's estimation and raw-key counts and error-correction leakage give none")


def run_diqkd(
    device: Any,
    params: QKDParameters,
    randomness: Randomness | None = None,
    progress: Callable[[int], None] | None = None,
    control: RunControl | None = None,
) -> QKDResult:
    """Steps 1-4 end to end on ``device``, steps 1-2 streamed (:func:`collect_tallies`);
    protocol randomness from the OS-keyed CSPRNG by default.

    ``control`` sets job size, checkpoint, resume and retries (:mod:`qdevices.jobs`).
    """
    randomness = randomness if randomness is not None else Randomness()
    streamed = collect_tallies(device, params, randomness, progress, control)
    result = distill_tallies(streamed.tallies, params, randomness)
    result.timings.update(streamed.timings)
    return replace(result, device_run=device_run_provenance(device, streamed.device_run))


def device_run_provenance(device: Any, run: DeviceRun) -> dict[str, Any]:
    """The ``device_run`` of a result: ``device.provenance`` (backend, execution, hardware or
    emulation, layout, calibration) updated with the job summary ``run`` (jobs, resumed jobs,
    attempts, job ids, checkpoint)."""
    return {**getattr(device, "provenance", {}), **run.to_dict()}
