"""The fast paths of the device sampler, the index/bit codecs, the chained support test and the
lazy extractor imports, each against an independent computation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import chisquare

from protocols.bell.chained import in_estimation_support
from qdevices.devices import TabulatedBox, outcome_bits, outcome_codes, setting_index_of
from qdevices.sampling import BLOCK_ROUNDS, TableSampler, _alias_row


class _Words:
    """A stand-in for a numpy Generator whose 64-bit words are a fixed sequence."""

    def __init__(self, words: np.ndarray) -> None:
        self._words, self._next = words.astype(np.uint64), 0

    def integers(self, low: int, high: int, count: int, dtype) -> np.ndarray:
        assert (low, high, dtype) == (0, 2**64, np.uint64)
        out = self._words[self._next:self._next + count]
        self._next += count
        return out.copy()


def _float_rule(table: np.ndarray, index: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The float alias rule: column floor(K u), its outcome if K u - column < cut, else its alias."""
    k = table.shape[1]
    rows = [_alias_row(row / row.sum()) for row in table]
    cut = np.array([c for c, _ in rows])
    alias = np.array([a for _, a in rows])
    scaled = u * k
    column = np.floor(scaled).astype(int)
    keep = scaled - column < cut[index, column]
    return np.where(keep, column, alias[index, column])


@pytest.mark.parametrize("shape", [(56, 4), (16, 16), (3, 2), (300, 4)])
def test_integer_rule_equals_float_rule_on_the_same_uniforms(shape):
    # seed 11; tables with zero entries (cut 0) and a deterministic row (cut 1 everywhere)
    rng = np.random.default_rng(11)
    table = rng.random(shape) * (rng.random(shape) > 0.3)
    table[:, 0] += 1e-3
    table[0] = np.eye(shape[1])[shape[1] - 1]
    table /= table.sum(axis=1, keepdims=True)
    index = rng.integers(0, shape[0], 3 * BLOCK_ROUNDS + 5)  # several blocks and a partial one
    codes = TableSampler(table).sample(index, np.random.default_rng(5))
    reference = _float_rule(table, index, np.random.default_rng(5).random(index.size))
    np.testing.assert_array_equal(codes, reference)


def test_words_at_the_cut_boundaries_follow_the_exact_comparison():
    # words whose fraction F / 2^51 (K = 4) sits just below, at and above each cut q, and at the
    # largest F; row 0 has a cut q = 1 - 2^-52 whose threshold rounds up to 2^51 (always keep)
    table = np.array([[(1 - 2.0**-52) / 4, 0.25, 0.25, 0.25 + 2.0**-54], [0.1, 0.2, 0.3, 0.4],
                      [1 / 3, 1 / 3, 1 / 3 - 1e-12, 1e-12]])
    rows = [_alias_row(row / row.sum()) for row in table]
    sampler = TableSampler(table)
    for setting, (cut, alias) in enumerate(rows):
        for column in range(4):
            edge = int(cut[column] * 2**51)  # exact: a power-of-two scaling
            fractions = sorted({min(max(f, 0), 2**51 - 1) for f in (edge - 1, edge, edge + 1, 2**51 - 1, 0)})
            for low in (0, 2**11 - 1):
                words = np.array([(column << 62) | (f << 11) | low for f in fractions], dtype=np.uint64)
                codes = sampler.sample(np.full(len(fractions), setting), _Words(words))
                expected = [column if f / 2**51 < cut[column] else alias[column] for f in fractions]
                assert codes.tolist() == expected, (setting, column, fractions)


def test_dyadic_table_gives_exact_counts_over_all_word_prefixes():
    # probabilities are multiples of 2^-8; every 10-bit word prefix once (2 column bits + 8
    # fraction bits), so outcome k of setting s occurs exactly P[s, k] * 2^10 times
    table = np.array([[64, 64, 64, 64], [0, 256, 0, 0], [1, 3, 100, 152], [255, 0, 0, 1]]) / 256
    prefixes = np.arange(2**10, dtype=np.uint64) << np.uint64(54)
    sampler = TableSampler(table)
    for setting, row in enumerate(table):
        codes = sampler.sample(np.full(prefixes.size, setting), _Words(prefixes))
        np.testing.assert_array_equal(np.bincount(codes, minlength=4), row * 2**10)


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937])
def test_sampled_frequencies_match_the_table(bit_generator):
    # seed 3, 4e5 rounds over 8 settings; chi-square per setting at significance 1e-4 (Bonferroni);
    # MT19937's raw outputs are 32-bit, so it checks that the sampler asks for 64-bit words
    rng = np.random.default_rng(3)
    table = rng.dirichlet(np.ones(4), size=8)
    index = rng.integers(0, 8, 400_000).astype(np.uint8)
    codes = TableSampler(table).sample(index, np.random.Generator(bit_generator(4)))
    for setting in range(8):
        observed = np.bincount(codes[index == setting], minlength=4)
        assert chisquare(observed, observed.sum() * table[setting]).pvalue > 1e-4 / 8


class _TwoByThreeBox(TabulatedBox):
    setting_counts = (2, 3)


def test_device_uses_the_same_codes_as_the_float_rule():
    rng = np.random.default_rng(8)
    table = rng.dirichlet(np.ones(4), size=6)
    box = _TwoByThreeBox(table, seed=21)
    inputs = np.stack([rng.integers(0, 2, 10_000), rng.integers(0, 3, 10_000)], axis=1).astype(np.uint8)
    codes = _float_rule(table, inputs[:, 0] * 3 + inputs[:, 1], np.random.default_rng(21).random(10_000))
    np.testing.assert_array_equal(box.measure(inputs), np.stack([codes >> 1, codes & 1], axis=1))


def test_out_of_range_setting_index_is_refused():
    with pytest.raises(ValueError, match="setting indices"):
        TableSampler(np.full((2, 2), 0.5)).sample(np.array([0, 2]), np.random.default_rng(0))


@pytest.mark.parametrize("counts", [(7, 8), (2, 2, 2, 2), (20, 21), (3, 5, 4)])
def test_setting_index_matches_ravel_multi_index(counts):
    rng = np.random.default_rng(2)
    inputs = np.stack([rng.integers(0, c, 5000) for c in counts], axis=1).astype(np.uint8)
    index = setting_index_of(inputs, counts)
    np.testing.assert_array_equal(index, np.ravel_multi_index(tuple(inputs.T.astype(np.int64)), counts))
    assert index.dtype == (np.uint8 if np.prod(counts) <= 256 else np.uint16)


@pytest.mark.parametrize("parties", [1, 2, 4, 5])
def test_outcome_bits_are_the_binary_digits_party_one_first(parties):
    codes = np.random.default_rng(parties).integers(0, 2**parties, 1000)
    bits = outcome_bits(codes, parties)
    expected = [[int(digit) for digit in format(int(code), f"0{parties}b")] for code in codes]
    np.testing.assert_array_equal(bits, expected)
    assert bits.dtype == np.uint8
    np.testing.assert_array_equal(outcome_codes(bits), codes)


@pytest.mark.parametrize("settings", range(2, 13))
def test_support_is_difference_zero_or_one_mod_m(settings):
    x, y = np.meshgrid(np.arange(settings), np.arange(settings + 1), indexing="ij")
    expected = [[y_ < settings and (x_ - y_) % settings in (0, 1) for y_ in range(settings + 1)]
                for x_ in range(settings)]
    for dtype in (np.uint8, np.int64):
        np.testing.assert_array_equal(in_estimation_support(x.astype(dtype), y.astype(dtype), settings), expected)


def test_support_does_not_wrap_at_the_dtype_limit():
    # M = 300 with uint8 settings: y = 255 is a valid setting and y + 1 wraps to 0 in uint8
    x, y = np.array([0, 0, 255, 1], dtype=np.uint8), np.array([255, 299 - 256, 254, 0], dtype=np.uint8)
    expected = [(int(a) - int(b)) % 300 in (0, 1) for a, b in zip(x, y)]
    np.testing.assert_array_equal(in_estimation_support(x, y, 300), expected)


def test_extractors_import_without_galois_and_keep_every_name():
    names = ["ArrayWordSource", "CyclicShiftExtractor", "PolynomialHashExtractor", "ThreeSourceByConcatenation",
             "TwoSourceExtractorModel", "ExtractorInputError", "FileWordSource", "InsufficientEntropyError",
             "ThreeSourceParameters", "ToeplitzParameters", "TwoSourceParameters", "cyclic_shift_extract",
             "cyclic_shift_extract_stream", "cyclic_shift_parameters", "extract_two_source", "inner_product_extract",
             "inner_product_parameters", "three_source_extract", "three_source_parameters", "toeplitz_hash",
             "toeplitz_parameters", "toeplitz_seed_length", "as_bits", "pack_bits", "read_bits", "unpack_bits",
             "write_bits", "zero_pad", "PolynomialHashParameters", "polynomial_hash_extract",
             "polynomial_hash_parameters"]
    code = ("import sys, extractors; from extractors import toeplitz_hash, CyclicShiftExtractor; "
            f"missing = [n for n in {names!r} if not hasattr(extractors, n)]; "
            "print('galois' in sys.modules, missing, sorted(set(extractors.__all__) - set(dir(extractors))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert result == ["False", "[]", "[]"]


def test_cyclic_lengths_are_primes_with_primitive_root_two():
    from extractors.primes import has_primitive_root_two

    def brute(n):
        if n < 3 or any(n % d == 0 for d in range(2, int(n**0.5) + 1)):
            return False
        return len({pow(2, e, n) for e in range(1, n)}) == n - 1

    assert [n for n in range(200) if has_primitive_root_two(n)] == [n for n in range(200) if brute(n)]
