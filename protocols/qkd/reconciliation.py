r"""One-way error correction for DI-QKD: LDPC syndrome coding plus a hash-tag check.

Paper 000 (``shared/papers/000_5a2926a5bfa1921a.txt``), Sec. III A step 3: Alice publishes
``C = f(A_r)`` of ``N_c`` bits, Bob computes ``B'_r`` from ``(B_r, C)``. The security proof
(Theorem 9) holds for *any* function ``f`` of Alice's raw key; it needs only the error
probability bound of eq. (67), ``P(B'_r != A_r) <= eps_erco``, and it charges every published
bit about ``A_r`` to the key length through ``N_c`` in eq. (17). Bob sends nothing that depends
on ``B_r`` (no Cascade, no interactive rate adaptation): the scheme is one-way.

The scheme, for raw keys of ``N_r`` bits
------------------------------------------
1. **Blocks.** ``k = ceil(N_r / MAX_BLOCK_LENGTH)`` blocks of ``n = ceil(N_r / k)`` bits; the last
   block has ``N_r - (k-1) n`` bits (between ``n - k + 1`` and ``n``) and uses the *shortened*
   code: the first columns of the same matrix, equivalently the block padded with zeros known
   to everybody, which carry no information about ``A_r`` and are not published.
2. **Syndromes.** Each block uses the ``m x n`` LDPC matrix ``H`` of
   :func:`protocols.qkd.ldpc_codes.parity_check_matrix` (deterministic, public, independent of the
   keys). Alice publishes ``s_A = H a`` (mod 2) for every block: ``k m`` bits.
3. **Decoding.** Bob computes ``s_B = H b`` and runs sum-product belief propagation (the
   ``ldpc`` package, ``BpDecoder``, product-sum, parallel schedule) for the error pattern
   ``e`` with ``H e = s_A + s_B``, channel probability = the design error rate, and sets
   ``b' = b + e``.
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

Code rate (the syndrome length ``m`` per block)
-----------------------------------------------
The caller passes ``error_rate``, an *upper* estimate ``lambda`` of the key-round error rate.
The number of errors in a block of ``n`` bits fluctuates around ``n lambda``; we size the code
for the upper quantile

.. math::  \lambda_n = \lambda + z \sqrt{\lambda (1-\lambda) / n}, \qquad
           m = \min\{n, \lceil f_\mathrm{code}\, n\, h(\lambda_n) \rceil\},

with ``z = ERROR_QUANTILE`` and ``f_code = code_efficiency(lambda)``, the measured gap of this
code family to the Shannon limit (so that a block's error count above ``n lambda_n`` is rare and
below it decoding succeeds with high probability). The resulting efficiency
``f = N_c / (N_r h(lambda))`` is printed by the benchmark. These constants only set the abort
probability (frame error rate); they never enter a security claim, because ``N_c`` is the
exact number of published bits whatever ``m`` is.

Very small error rates: codes of rate above about 0.99 have check degrees in the hundreds,
where sum-product decoding fails well above capacity (measured: at ``lambda = 10^-4``,
``n = 2^16``, a frame error rate of 0.2 even with ``f = 4``). A positive ``lambda`` below
``MIN_DESIGN_ERROR_RATE = 10^-3`` is therefore raised to ``10^-3``: the minimum leak is about
``2.3 h(10^-3) N_r ~= 0.026 N_r`` bits for blocks of ``2^16`` bits (more for shorter keys, whose
quantile term is larger). The result's
``design_error_rate`` is the rate the code was built for, after this floor.

``lambda = 0`` exactly (an ideal, noiseless device): no syndrome is published (``m = 0``) and
only the tag is sent. This is sound for every input (a single error makes the tag mismatch
except with probability ``2^-t``, and then the run aborts); it is the right choice because an
exact zero is a promise that the keys agree, and any syndrome would only cost key. Callers that
merely *estimate* a small error rate from data should pass that positive estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse
from ldpc import BpDecoder

from extractors import ExtractorInputError, toeplitz_hash, toeplitz_seed_length
from extractors.bits import as_bits
from protocols.qkd.ldpc_codes import parity_check_matrix
from qdevices.randomness import Randomness

#: Longest block of one LDPC code. Longer codes decode closer to capacity (at lambda = 0.01 the
#: efficiency that decodes every test run drops from about 1.4 at 2^15 bits to 1.27 at 2^16 and
#: 1.2 at 2^17), but a block costs about 1-3 s of sum-product decoding at 2^16 bits.
MAX_BLOCK_LENGTH = 2**16

#: Standard deviations of the binomial error count per block that the code is sized to absorb.
ERROR_QUANTILE = 2.5

#: Gap ``f_code`` of the code family to the Shannon limit at the quantile error rate,
#: ``m = f_code n h(lambda_n)``, as (design error rate, f_code) knots; linear in
#: ``log10(lambda)`` between knots, constant outside. Measured at ``n = 2^16`` (sum-product,
#: 150 iterations, errors i.i.d. at the design rate, 10 runs per point): the smallest total
#: efficiency ``m / (n h(lambda))`` with no frame error was 1.8, 1.35, 1.27, 1.35, 1.35 for
#: lambda = 0.001, 0.005, 0.01, 0.02, 0.03; divided by the quantile factor
#: ``h(lambda_n) / h(lambda)`` (1.26, 1.11, 1.08, 1.05, 1.04) and raised by about 0.05 for
#: margin. Checks with 30-60 more runs per point then raised two knots: at 0.001, 1.5 failed
#: 2 of 30 and 1.65 failed 1 of 40, so the knot is 1.8 (0 of 70); at 0.005, 1.25 failed 1 of
#: 60, so the knot is 1.3 (0 of 40). High-rate codes (small lambda) are further from capacity.
CODE_EFFICIENCY_KNOTS: tuple[tuple[float, float], ...] = (
    (0.001, 1.8), (0.005, 1.3), (0.01, 1.25), (0.02, 1.3), (0.03, 1.35),
)

#: Smallest positive design error rate (see "Very small error rates" above).
MIN_DESIGN_ERROR_RATE = 1e-3

#: Belief-propagation iterations before Bob gives up on a block.
MAX_ITERATIONS = 150


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
    message: str


def binary_entropy(p: float) -> float:
    """``h(p) = -p log2 p - (1-p) log2 (1-p)``, paper 000 eq. (16); ``h(0) = 0``."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -p * math.log2(p) - (1.0 - p) * math.log2(1.0 - p)


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


def syndrome_length(block_length: int, error_rate: float) -> int:
    """Per-block syndrome length ``m`` for design rate ``lambda`` (module docstring)."""
    if error_rate == 0.0:
        return 0
    spread = ERROR_QUANTILE * math.sqrt(error_rate * (1.0 - error_rate) / block_length)
    quantile_rate = min(0.5, error_rate + spread)
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
        syndrome_length=syndrome_length(block_length, design_rate),
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


def bob_correct(bob: np.ndarray, message: AliceMessage, plan: ReconciliationPlan) -> tuple[np.ndarray, int]:
    """Bob's ``B'_r`` from ``B_r`` and the syndromes, and the number of blocks BP left unsolved.

    A block is unsolved when belief propagation stops without an ``e`` that satisfies
    ``H e = s_A + s_B``.
    """
    corrected = bob.copy()
    differences = message.syndromes ^ block_syndromes(bob, plan)
    if plan.syndrome_length == plan.block_length:  # the syndrome is the block itself
        flat = differences.reshape(-1)[: plan.raw_key_length]
        return corrected ^ flat, 0
    unsolved = 0
    decoders: dict[int, BpDecoder] = {}
    for index in np.flatnonzero(differences.any(axis=1)):
        start = index * plan.block_length
        length = min(plan.block_length, plan.raw_key_length - start)
        if length not in decoders:
            decoders[length] = BpDecoder(
                block_parity_check(plan)[:, :length],
                error_rate=plan.design_error_rate,
                max_iter=MAX_ITERATIONS,
                bp_method="product_sum",
                schedule="parallel",
            )
        decoder = decoders[length]
        error = decoder.decode(differences[index])
        unsolved += not decoder.converge
        corrected[start : start + length] ^= error.astype(np.uint8)
    return corrected, unsolved


def reconcile(
    alice: np.ndarray,
    bob: np.ndarray,
    *,
    error_rate: float,
    eps_erco: float,
    randomness: Randomness,
) -> ReconciliationResult:
    """Run the one-way scheme of the module docstring on raw keys ``A_r`` (Alice), ``B_r`` (Bob).

    ``success`` is True only when every block decoded and Bob's tag equals Alice's; then
    ``P(B'_r != A_r) <= 2^-t <= eps_erco`` (paper 000 eq. 67). ``leaked_bits`` is ``N_c`` of
    eq. (17), equal to :func:`error_correction_leakage` for the same arguments.
    """
    alice_bits = _as_bits(alice, "alice")
    bob_bits = _as_bits(bob, "bob")
    if alice_bits.size != bob_bits.size:
        raise ReconciliationInputError(
            f"bob must have the same length as alice ({alice_bits.size} bits), got {bob_bits.size}"
        )
    plan = plan_reconciliation(alice_bits.size, error_rate, eps_erco)
    message = alice_message(alice_bits, plan, randomness)
    corrected, unsolved = bob_correct(bob_bits, message, plan)
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
