"""Input lengths for the cyclic-shift extractor: primes ``n`` with 2 a primitive root mod ``n``.

For such ``n`` the polynomial ``1 + t + ... + t^(n-1)`` is irreducible over GF(2) (the order
of 2 mod ``n`` is ``n - 1``, the degree of every irreducible factor of the cyclotomic polynomial
``Phi_n``), which is what gives the cyclic shifts their rank property
(:mod:`extractors.two_source`). The sequence starts 3, 5, 11, 13, 19, 29, 37, ... (OEIS A001122).
Primality and the primitive-root test are galois's (``galois.is_prime``,
``galois.is_primitive_root``); galois is imported on the first test (its import compiles numba
kernels, about 1 s), so importing :mod:`extractors` stays cheap for callers that never need a
cyclic length.
"""

from __future__ import annotations

from extractors.errors import ExtractorInputError


def has_primitive_root_two(n: int) -> bool:
    """True when ``n`` is a prime and 2 generates the multiplicative group mod ``n``."""
    import galois

    return n >= 3 and galois.is_prime(n) and galois.is_primitive_root(2, n)


def next_cyclic_length(n: int) -> int:
    """Smallest ``N >= n`` that is a prime with primitive root 2."""
    candidate = max(n, 3)
    while not has_primitive_root_two(candidate):
        candidate += 1
    return candidate


def _previous_cyclic_length(n: int) -> int | None:
    """Largest ``N <= n`` that is a prime with primitive root 2 (None below 3)."""
    candidate = n
    while candidate >= 3:
        if has_primitive_root_two(candidate):
            return candidate
        candidate -= 1
    return None


def require_cyclic_length(n: int, name: str = "n") -> None:
    """Raise :class:`ExtractorInputError` naming the nearest valid lengths unless ``n`` is valid."""
    if not has_primitive_root_two(n):
        raise ExtractorInputError(
            f"{name} = {n} must be a prime with 2 as primitive root; nearest valid lengths: "
            f"{_previous_cyclic_length(n)} and {next_cyclic_length(n)}"
        )
