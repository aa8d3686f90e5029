r"""One-way error correction for DI-QKD: LDPC syndrome coding plus a hash-tag check.

Paper 000 (``shared/papers/000_5a2926a5bfa1921a.txt``), Sec. III A step 3: Alice publishes
``C = f(A_r)`` of ``N_c`` bits, Bob computes ``B'_r`` from ``(B_r, C)``. The security proof
(Theorem 9) holds for *any* function ``f`` of Alice's raw key; it needs only the error
probability bound of eq. (67), ``P(B'_r != A_r) <= eps_erco``, and it charges every published
bit about ``A_r`` to the key length through ``N_c`` in eq. (17). Bob sends nothing that depends
on ``B_r`` (no Cascade, no interactive rate adaptation): the scheme is one-way.

The scheme, for raw keys of ``N_r`` bits
------------------------------------------
1. **Blocks.** ``k = ceil(N_r / MAX_BLOCK_LENGTH)`` blocks of ``n = ceil(N_r / k)`` bits, so the
   block length adapts to ``N_r`` (one block up to ``2^18`` bits, then the longest equal split);
   the last block has ``N_r - (k-1) n`` bits (between ``n - k + 1`` and ``n``) and uses the
   *shortened* code: the first columns of the same matrix, equivalently the block padded with
   zeros known to everybody, which carry no information about ``A_r`` and are not published.
2. **Syndromes.** Each block uses the ``m x n`` LDPC matrix ``H`` of
   :func:`protocols.qkd.ldpc_codes.parity_check_matrix` (deterministic, public, independent of the
   keys; its degree distribution is chosen for the rate ``1 - m/n``, see that module). Alice
   publishes ``s_A = H a`` (mod 2) for every block: ``k m`` bits.
3. **Decoding.** Bob computes ``s_B = H b`` and runs sum-product belief propagation (the
   ``ldpc`` package, ``BpDecoder``, product-sum, parallel schedule) for the error pattern
   ``e`` with ``H e = s_A + s_B``, channel probability = the design error rate, and sets
   ``b' = b + e``. Blocks are independent and are decoded in parallel in worker *processes*
   (one per core of ``os.sched_getaffinity``): ``BpDecoder.decode`` holds the GIL, so threads
   do not run it concurrently (``benchmarks/bench_reconciliation.py`` times serial, threads and
   processes side by side). Decoding is deterministic, so the result does not depend on the
   number of workers.
4. **Verification** (the only source of the bound (67)). *After* the syndromes are published,
   Alice draws a fresh uniform seed ``S`` for the Toeplitz family (paper 000 Definition 5,
   eq. 48: ``P_S[T_S x = T_S x'] = 2^-t`` for ``x != x'``), publishes ``S`` and the ``t``-bit tag
   ``T_S A_r``; Bob accepts iff ``T_S B'_r`` equals the tag. ``B'_r`` is a function of
   ``(B_r, s_A)`` only, so ``S`` is independent of the pair ``(A_r, B'_r)``, whence
   ``P(accept and B'_r != A_r) <= 2^-t``. With ``t = ceil(log2(1/eps_erco))`` this is at most
   ``eps_erco``: eq. (67).

What ``N_c`` counts
-------------------
``N_c = k m + t``: every syndrome bit and every tag bit. The seed ``S`` is *not* counted: it
is drawn independently of ``A_r``, ``B_r`` and the adversary, so Lemma 8 of paper 000 applies
conditioned on each value of ``S``, with ``C = f_S(A_r)`` a fixed function of ``A_r`` of
``k m + t`` bits (Theorem 7 charges exactly ``|C|`` bits, eqs. (55), (61), (65)). Zero padding of
the last block is public and constant, and is not counted.

Bob announces only accept or abort, and that bit depends on ``B_r``. Lemma 8 admits only
functions of ``A_r``, and the proof of eq. (68) (eqs. (69)-(72)) does not model an abort flag;
the paper shares this gap (its eq. (67) cannot hold for adversarial devices unless error
correction may abort). bellbox does not count the flag in ``N_c`` and states this as an
assumption (module :mod:`protocols.qkd.protocol`, README); the usual treatment of verification, where
the secrecy criterion is weighted by the probability of not aborting (e.g. Tomamichel, Lim,
Gisin, Renner, Nat. Commun. 3, 634 (2012)), is made in a min-entropy framework, not in paper
000's no-signaling one.

Code rate (the syndrome length ``m`` per block) and the run's failure probability
---------------------------------------------------------------------------------
The caller passes ``error_rate``, an *upper* estimate ``lambda`` of the key-round error rate
(:mod:`protocols.qkd.error_rate`). One failed block aborts the run, so the code is sized for
the whole run, not for one block: the target is that a run whose key-round errors are i.i.d.
at the design rate ``lambda`` fails with probability at most
``RUN_FAILURE_TARGET = 10^-2``. With ``k`` blocks, each block gets ``delta = 10^-2 / k``
(union bound), split in two halves:

* *more errors than planned*: ``w*`` is the smallest weight with
  ``P[Binomial(n, lambda) > w*] <= delta / 2`` (binomial tail
  ``scipy.special.bdtrc``, searched over integer ``w``);
* *decoder failure at weight <= w**: the code is sized as

  .. math::  m = \min\{n, \lceil f_\mathrm{code}(\lambda)\, n\, h(w^*/n) \rceil\},

  with ``f_code`` from :data:`CODE_EFFICIENCY_KNOTS`, the gap to the Shannon limit at which the
  decoder was measured to correct fixed-weight error patterns (numbers next to the knots).
  This half is an empirical claim: it rests on the measured frame error rates
  (``benchmarks/bench_reconciliation.py``; numbers and frame counts in its docstring), not on a
  theorem.

The efficiency of a run is the product of three factors, ``f = f_code x h(w*/n) / h(lambda) x
h(lambda) / h(QBER)`` (up to the ``t`` tag bits and rounding): the code's gap, the quantile
term, and the cost of designing for the upper estimate ``lambda`` rather than the run's actual
error rate. Measured inside ``bellbox qkd --json --seed 1`` runs (commands in the benchmark),
``N_r ~= 1.03-1.06e6``: at QBER 1.0 % ``f = 1.189 = 1.130 x 1.049 x 1.003``, at 2.0 % ``1.192 =
1.150 x 1.033 x 1.004``, at 3.0 % ``1.162 = 1.120 x 1.030 x 1.007``.

So more blocks raise ``w*`` slowly (the tail quantile moves by about ``sqrt(2 ln k)``
standard deviations): the run, not the block, is sized for the target, so a long key is not
lost to one unlucky block of many. The shortened last block has fewer bits and the same
``m``, so the tail bound computed for ``n`` bits covers it. The resulting efficiency ``f = N_c / (N_r h(lambda))``
is printed by the benchmark. These constants only set the abort probability; they never
enter a security claim, because ``N_c`` is the exact number of published bits whatever ``m``
is.

Very small error rates: codes of rate above about 0.99 have check degrees in the hundreds,
where sum-product decoding fails well above capacity (measured: at ``lambda = 10^-4``,
``n = 2^16``, a frame error rate of 0.2 even with ``f = 4``). A positive ``lambda`` below
``MIN_DESIGN_ERROR_RATE = 10^-3`` is therefore raised to ``10^-3``: the minimum leak is about
``2.3 h(10^-3) N_r ~= 0.026 N_r`` bits for long keys (more for shorter keys, whose quantile
term is larger). The result's
``design_error_rate`` is the rate the code was built for, after this floor.

``lambda = 0`` exactly (an ideal, noiseless device): no syndrome is published (``m = 0``) and
only the tag is sent. This is sound for every input (a single error makes the tag mismatch
except with probability ``2^-t``, and then the run aborts); it is the right choice because an
exact zero is a promise that the keys agree, and any syndrome would only cost key. Callers that
merely *estimate* a small error rate from data should pass that positive estimate.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.special

from extractors import ExtractorInputError, toeplitz_hash, toeplitz_seed_length
from extractors.bits import as_bits
from protocols.qkd.keyrate import binary_entropy
from protocols.qkd.ldpc_codes import parity_check_matrix
from qdevices.randomness import Randomness

#: Longest block of one LDPC code. Longer codes decode closer to capacity and shrink the quantile
#: term (one block of 2^20 bits instead of four of 2^18 would lower it from 1.049 to about 1.021
#: at 1 %), but decoding one 2^18 block already costs 8-16 s on one core of the shared 2-core
#: test machine (frame-error-rate runs; up to 70 s for a frame that fails), a 2^20 block (not
#: measured) an estimated 4 times that on one core (a block is not split over processes), and its
#: frame error rate could not have been measured on enough frames; 2^18 meets f <= 1.2 at 1-3 %.
MAX_BLOCK_LENGTH = 2**18

#: Largest probability that a run with i.i.d. key-round errors at the design rate aborts
#: because error correction failed (module docstring, "Code rate").
RUN_FAILURE_TARGET = 1e-2

#: Gap ``f_code`` of the code family to the Shannon limit at the tail weight ``w*``,
#: ``m = f_code n h(w*/n)``, as (design error rate, f_code) knots; linear in ``log10(lambda)``
#: between knots, constant outside. Measured on the block of an ``N_r = 1.022e6`` run
#: (``n = 255,502``, the ``bellbox qkd --rounds 40000000 --gamma 0.84`` layout) with error
#: patterns of fixed weight ``round(n p)`` (sum-product, 200 iterations, seeds 0-5,
#: ``python -m benchmarks.bench_reconciliation calibrate``), failures / frames:
#: p = 0.0101 (rate-0.90 row of :mod:`protocols.qkd.ldpc_codes`): f = 1.06 4/6, 1.10 0/6,
#: 1.14 0/6; p = 0.0201 (rate-0.85 row, staircase): f = 1.08 2/6, 1.12 0/6; p = 0.0302
#: (rate-0.80 row with lowered lambda_2): f = 1.08 2/6, 1.12 0/6. The 1 % and 2 % knots are the
#: smallest f without failure plus 0.03; the 3 % knot has no such margin (1.15 would give
#: f = 1.18 planned, also within 1.2; not re-measured before the deadline). The frame error
#: rate at the knots, with i.i.d. errors at the design rate, is measured by
#: ``benchmarks/bench_reconciliation.py`` (numbers in its docstring). The 0.001 and 0.005
#: knots are those of the previous calibration at high rate (previous rate-0.90 row: 0
#: failures in 70 and 40 runs), kept for the new row after a check at 0.005: f = 1.25, fixed
#: weight, n = 255,502, 0/3 failed.
CODE_EFFICIENCY_KNOTS: tuple[tuple[float, float], ...] = (
    (0.001, 1.8), (0.005, 1.3), (0.01, 1.13), (0.02, 1.15), (0.03, 1.12),
)

#: Smallest positive design error rate (see "Very small error rates" above).
MIN_DESIGN_ERROR_RATE = 1e-3

#: Belief-propagation iterations before Bob gives up on a block.
MAX_ITERATIONS = 200


class ReconciliationInputError(ValueError):
    """Bad input to error correction: the message names the parameter, value and allowed range."""


@dataclass(frozen=True)
class ReconciliationPlan:
    """The public shape of one error-correction run (everything but the data)."""

    raw_key_length: int
    design_error_rate: float
    blocks: int
    block_length: int
    last_block_length: int
    syndrome_length: int  # per block (m); 0 for lambda = 0, block_length means "send the block"
    tag_bits: int

    @property
    def syndrome_bits(self) -> int:
        return self.blocks * self.syndrome_length

    @property
    def leaked_bits(self) -> int:
        """``N_c``: syndrome bits plus tag bits."""
        return self.syndrome_bits + self.tag_bits

    @property
    def code_rate(self) -> float:
        return 1.0 - self.syndrome_length / self.block_length


@dataclass(frozen=True)
class AliceMessage:
    """Everything Alice publishes: per-block syndromes, then the hash seed and tag."""

    syndromes: np.ndarray  # (blocks, syndrome_length) 0/1 uint8
    hash_seed: np.ndarray  # independent of A_r: not counted in N_c
    tag: np.ndarray  # tag_bits bits, a function of A_r

    @property
    def published_bits_about_key(self) -> int:
        return int(self.syndromes.size + self.tag.size)


@dataclass(frozen=True)
class ReconciliationResult:
    """Outcome of :func:`reconcile` (``corrected`` is Bob's ``B'_r`` only when ``success``)."""

    success: bool
    corrected: np.ndarray | None
    leaked_bits: int
    syndrome_bits: int
    tag_bits: int
    design_error_rate: float
    code_rate: float
    blocks: int
    block_length: int
    message: str


def tag_length(eps_erco: float) -> int:
    """Smallest ``t`` with ``2^-t <= eps_erco`` (``t = ceil(log2(1/eps_erco))``, Theorem 9)."""
    _check_eps(eps_erco)
    t = max(1, math.ceil(-math.log2(eps_erco)))
    while 2.0**-t > eps_erco:
        t += 1
    return t


def code_efficiency(error_rate: float) -> float:
    """``f_code`` for design rate ``lambda > 0``, from :data:`CODE_EFFICIENCY_KNOTS`."""
    rates, factors = zip(*CODE_EFFICIENCY_KNOTS)
    return float(np.interp(math.log10(error_rate), np.log10(rates), factors))


def tail_weight(block_length: int, error_rate: float, blocks: int) -> int:
    """``w*``: the smallest weight with ``P[Binomial(n, lambda) > w*] <= RUN_FAILURE_TARGET / (2 k)``.

    ``P[Binomial(n, lambda) > w] = bdtrc(w, n, lambda)`` decreases in ``w`` and is 0 at
    ``w = n``, so the smallest such ``w`` is found by integer bisection on ``[0, n]``.
    """
    target = RUN_FAILURE_TARGET / (2 * blocks)
    low, high = -1, block_length  # tail(low) > target (or low = -1), tail(high) <= target
    while high - low > 1:
        middle = (low + high) // 2
        if scipy.special.bdtrc(middle, block_length, error_rate) <= target:
            high = middle
        else:
            low = middle
    return high


def syndrome_length(block_length: int, error_rate: float, blocks: int) -> int:
    """Per-block syndrome length ``m`` for design rate ``lambda`` and ``k`` blocks (module docstring)."""
    if error_rate == 0.0:
        return 0
    quantile_rate = min(0.5, tail_weight(block_length, error_rate, blocks) / block_length)
    wanted = code_efficiency(error_rate) * block_length * binary_entropy(quantile_rate)
    return min(block_length, math.ceil(wanted))


def plan_reconciliation(raw_key_length: int, error_rate: float, eps_erco: float) -> ReconciliationPlan:
    """Block layout, syndrome length and tag length for ``N_r`` raw-key bits."""
    if isinstance(raw_key_length, bool) or not isinstance(raw_key_length, (int, np.integer)) \
            or raw_key_length < 1:
        raise ReconciliationInputError(
            f"raw_key_length must be an integer >= 1, got {raw_key_length!r}"
        )
    _check_error_rate(error_rate)
    tag_bits = tag_length(eps_erco)
    raw_key_length = int(raw_key_length)
    design_rate = max(float(error_rate), MIN_DESIGN_ERROR_RATE) if error_rate > 0 else 0.0
    blocks = -(-raw_key_length // MAX_BLOCK_LENGTH)
    block_length = -(-raw_key_length // blocks)
    return ReconciliationPlan(
        raw_key_length=raw_key_length,
        design_error_rate=design_rate,
        blocks=blocks,
        block_length=block_length,
        last_block_length=raw_key_length - (blocks - 1) * block_length,
        syndrome_length=syndrome_length(block_length, design_rate, blocks),
        tag_bits=tag_bits,
    )


def error_correction_leakage(raw_key_length: int, error_rate: float, eps_erco: float) -> int:
    """``N_c`` that :func:`reconcile` publishes for these parameters, without running it."""
    return plan_reconciliation(raw_key_length, error_rate, eps_erco).leaked_bits


def block_parity_check(plan: ReconciliationPlan) -> scipy.sparse.csr_matrix:
    """The public ``m x n`` matrix of every block (identity when the whole block is sent)."""
    m, n = plan.syndrome_length, plan.block_length
    if m == n:
        return scipy.sparse.identity(n, dtype=np.uint8, format="csr")
    return parity_check_matrix(n, m)


def block_syndromes(bits: np.ndarray, plan: ReconciliationPlan) -> np.ndarray:
    """``H x`` (mod 2) of every block, shape ``(blocks, m)``; the last block is zero-padded."""
    if plan.syndrome_length == 0:
        return np.zeros((plan.blocks, 0), dtype=np.uint8)
    padded = np.zeros(plan.blocks * plan.block_length, dtype=np.uint8)
    padded[: plan.raw_key_length] = bits
    blocks = padded.reshape(plan.blocks, plan.block_length)
    counts = block_parity_check(plan).astype(np.int32) @ blocks.T.astype(np.int32)
    return np.ascontiguousarray((counts & 1).T, dtype=np.uint8)


def alice_message(alice: np.ndarray, plan: ReconciliationPlan, randomness: Randomness) -> AliceMessage:
    """Alice's one-way message: syndromes first, then a fresh hash seed and the tag of ``A_r``."""
    syndromes = block_syndromes(alice, plan)
    seed = randomness.bits(toeplitz_seed_length(plan.raw_key_length, plan.tag_bits))
    return AliceMessage(syndromes, seed, toeplitz_hash(alice, seed, plan.tag_bits))


def decoding_workers() -> int:
    """Worker processes for decoding: the cores this process may run on (``os.sched_getaffinity``)."""
    return len(os.sched_getaffinity(0))


def decode_block(block_length: int, syndrome_length: int, length: int, design_error_rate: float,
                 difference: np.ndarray) -> tuple[np.ndarray, bool]:
    """Belief propagation for ``e`` with ``H[:, :length] e = difference``; returns ``(e, converged)``.

    A top-level function of plain arguments so that worker processes can run it. ``ldpc`` is
    imported here, on the first block that needs decoding (its import costs about 0.25 s).
    """
    from ldpc import BpDecoder

    decoder = BpDecoder(parity_check_matrix(block_length, syndrome_length)[:, :length],
                        error_rate=design_error_rate, max_iter=MAX_ITERATIONS,
                        bp_method="product_sum", schedule="parallel")
    error = decoder.decode(difference)
    return error.astype(np.uint8), bool(decoder.converge)


def bob_correct(bob: np.ndarray, message: AliceMessage, plan: ReconciliationPlan,
                workers: int | None = None) -> tuple[np.ndarray, int]:
    """Bob's ``B'_r`` from ``B_r`` and the syndromes, and the number of blocks BP left unsolved.

    A block is unsolved when belief propagation stops without an ``e`` that satisfies
    ``H e = s_A + s_B``. Blocks whose syndromes differ are decoded in ``workers`` processes
    (default :func:`decoding_workers`); ``workers = 1`` decodes in this process. The result
    is the same for every ``workers``.
    """
    corrected = bob.copy()
    differences = message.syndromes ^ block_syndromes(bob, plan)
    if plan.syndrome_length == plan.block_length:  # the syndrome is the block itself
        flat = differences.reshape(-1)[: plan.raw_key_length]
        return corrected ^ flat, 0
    indices = np.flatnonzero(differences.any(axis=1))
    starts = indices * plan.block_length
    lengths = np.minimum(plan.block_length, plan.raw_key_length - starts)
    arguments = ([plan.block_length] * indices.size, [plan.syndrome_length] * indices.size,
                 lengths.tolist(), [plan.design_error_rate] * indices.size, list(differences[indices]))
    workers = min(decoding_workers() if workers is None else workers, indices.size)
    if workers <= 1:
        outcomes = list(map(decode_block, *arguments))
    else:
        parity_check_matrix(plan.block_length, plan.syndrome_length)  # built once, inherited by fork
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            outcomes = list(pool.map(decode_block, *arguments))
    for start, length, (error, _) in zip(starts, lengths, outcomes):
        corrected[start : start + length] ^= error
    return corrected, sum(not converged for _, converged in outcomes)


def reconcile(
    alice: np.ndarray,
    bob: np.ndarray,
    *,
    error_rate: float,
    eps_erco: float,
    randomness: Randomness,
    workers: int | None = None,
) -> ReconciliationResult:
    """Run the one-way scheme of the module docstring on raw keys ``A_r`` (Alice), ``B_r`` (Bob).

    ``success`` is True only when every block decoded and Bob's tag equals Alice's; then
    ``P(B'_r != A_r) <= 2^-t <= eps_erco`` (paper 000 eq. 67). ``leaked_bits`` is ``N_c`` of
    eq. (17), equal to :func:`error_correction_leakage` for the same arguments. ``workers``:
    decoding processes (:func:`bob_correct`); it changes the time, never the result.
    """
    alice_bits = _as_bits(alice, "alice")
    bob_bits = _as_bits(bob, "bob")
    if alice_bits.size != bob_bits.size:
        raise ReconciliationInputError(
            f"bob must have the same length as alice ({alice_bits.size} bits), got {bob_bits.size}"
        )
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer))
                                or workers < 1):
        raise ReconciliationInputError(f"workers must be an integer >= 1, got {workers!r}")
    plan = plan_reconciliation(alice_bits.size, error_rate, eps_erco)
    message = alice_message(alice_bits, plan, randomness)
    corrected, unsolved = bob_correct(bob_bits, message, plan, workers)
    tag_matches = bool(np.array_equal(toeplitz_hash(corrected, message.hash_seed, plan.tag_bits), message.tag))
    success = unsolved == 0 and tag_matches
    if success:
        reason = ""
    elif unsolved:
        reason = (f"belief propagation did not converge on {unsolved} of {plan.blocks} blocks "
                  f"(design error rate {plan.design_error_rate:g} too low for the actual errors)")
    else:
        reason = "hash tags differ: Bob's corrected key is not Alice's"
    return ReconciliationResult(
        success=success,
        corrected=corrected if success else None,
        leaked_bits=message.published_bits_about_key,
        syndrome_bits=int(message.syndromes.size),
        tag_bits=int(message.tag.size),
        design_error_rate=plan.design_error_rate,
        code_rate=plan.code_rate,
        blocks=plan.blocks,
        block_length=plan.block_length,
        message=reason,
    )


def _as_bits(values: np.ndarray, name: str) -> np.ndarray:
    try:
        bits = as_bits(values, name)
    except ExtractorInputError as exc:
        raise ReconciliationInputError(str(exc)) from exc
    if bits.size == 0:
        raise ReconciliationInputError(f"{name} must hold at least 1 bit, got an empty array")
    return bits


def _check_error_rate(error_rate: float) -> None:
    if not isinstance(error_rate, (int, float, np.floating)) or not 0.0 <= error_rate < 0.5:
        raise ReconciliationInputError(f"error_rate must be in [0, 0.5), got {error_rate!r}")


def _check_eps(eps_erco: float) -> None:
    if not isinstance(eps_erco, (int, float, np.floating)) or not 0.0 < eps_erco < 1.0:
        raise ReconciliationInputError(f"eps_erco must be in (0, 1), got {eps_erco!r}")
