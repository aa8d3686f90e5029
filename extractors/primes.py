"""Input lengths for the cyclic-shift extractor: primes ``n`` with 2 a primitive root mod ``n``.

For such ``n`` the polynomial ``1 + t + ... + t^(n-1)`` is irreducible over GF(2) (the order
of 2 mod ``n`` is ``n - 1``, the degree of every irreducible factor of the cyclotomic polynomial
``Phi_n``), which is what gives the cyclic shifts their rank property
(:mod:`extractors.two_source`). The sequence starts 3, 5, 11, 13, 19, 29, 37, ... (OEIS A001122).
"""

from __future__ import annotations

from extractors.errors import ExtractorInputError

# Deterministic Miller-Rabin bases: correct for every n < 3.3 * 10^24 (Sorenson & Webster 2015).
_WITNESSES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)


def is_prime(n: int) -> bool:
    """Deterministic primality test (Miller-Rabin with the first 13 prime bases)."""
    if n < 2:
        return False
    for p in _WITNESSES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in _WITNESSES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime_factors(value: int) -> list[int]:
    factors, p = [], 2
    while p * p <= value:
        if value % p == 0:
            factors.append(p)
            while value % p == 0:
                value //= p
        p += 1 if p == 2 else 2
    if value > 1:
        factors.append(value)
    return factors


def has_primitive_root_two(n: int) -> bool:
    """True when ``n`` is a prime and 2 generates the multiplicative group mod ``n``."""
    if n == 3:
        return True
    if n < 3 or not is_prime(n):
        return False
    return all(pow(2, (n - 1) // q, n) != 1 for q in _prime_factors(n - 1))


def next_cyclic_length(n: int) -> int:
    """Smallest ``N >= n`` that is a prime with primitive root 2."""
    candidate = max(n, 3)
    while not has_primitive_root_two(candidate):
        candidate += 1
    return candidate


def previous_cyclic_length(n: int) -> int | None:
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
        below = previous_cyclic_length(n)
        raise ExtractorInputError(
            f"{name} = {n} must be a prime with 2 as primitive root; nearest valid lengths: "
            f"{below} and {next_cyclic_length(n)}"
        )
