"""Tests of the improved Protocol II chain (docs/amplification_protocol2_improved.md) that could
catch a wrong bound: the block-choice lemma against the exact worst SV choice of the block, the
device-2 bad term against an exact adversarial dynamic program over blocks, the gap of the paper's
bit order by exact Bayes, Lemma 13's algebra, independent recomputation of the final formulas,
limits shared with the Protocol I chain, monotonicity and local boxes."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from protocols.amplification.improved_certificate import certify_protocol1_improved
from protocols.amplification.improved_protocol2 import (certify_protocol2_improved,
                                                        log2_block_choice_factor, log2_lemma13,
                                                        plan_protocol2_improved)
from protocols.bell.four_party import bell_table


def _worst_block_choice(probabilities: np.ndarray, events: np.ndarray, eps: float) -> float:
    """Exact max over SV choices of the block index j (k bits, each with conditional probability
    in [1/2 - eps, 1/2 + eps] given the outcome omega and the earlier bits) of P(omega in B_j).
    ``events[omega, l]`` says whether B_l holds. Backward induction on the binary tree of j's bits:
    each bit leans (1/2 + eps) towards the subtree of larger value."""
    values = events.astype(np.float64)
    while values.shape[1] > 1:
        pairs = values.reshape(values.shape[0], -1, 2)
        values = (0.5 + eps) * pairs.max(axis=2) + (0.5 - eps) * pairs.min(axis=2)
    return float(probabilities @ values[:, 0])


@pytest.mark.parametrize("blocks, eps", [(2, 0.0), (4, 0.01), (8, 0.1), (16, 0.3)])
def test_block_choice_lemma_against_exact_worst_sv_choice(blocks, eps):
    """Docs, Section 3: P(B_j) <= (1/2 + eps)^k sum_l P(B_l) <= (1 + 2 eps)^k max_l P(B_l) for
    random events on a 12-point space (seed 11), with equality for disjoint equiprobable events."""
    rng = np.random.default_rng(11)
    factor = 2.0 ** log2_block_choice_factor(blocks, eps)
    assert factor == pytest.approx(blocks * (0.5 + eps) ** math.log2(blocks), rel=1e-12)
    for _ in range(50):
        probabilities = rng.dirichlet(np.ones(12))
        events = rng.random((12, blocks)) < rng.uniform(0.05, 0.6)
        marginals = probabilities @ events
        worst = _worst_block_choice(probabilities, events, eps)
        assert worst <= (0.5 + eps) ** math.log2(blocks) * marginals.sum() * (1 + 1e-12)
        assert worst <= factor * marginals.max() * (1 + 1e-12)
    disjoint = np.eye(blocks, dtype=bool)  # outcome l: only B_l holds
    uniform = np.full(blocks, 1.0 / blocks)
    assert _worst_block_choice(uniform, disjoint, eps) == pytest.approx(factor / blocks, rel=1e-12)


def _single_block_worst(runs: int, threshold: float, grid: int) -> float:
    """Exact max over adversaries choosing Bbar_i in {0, 1/grid, .., 1} adaptively of
    P(no Bell violation in the block, sum_i Bbar_i > runs * threshold): dynamic program over
    the units of Bbar still needed (a violation ends the event)."""
    needed = math.floor(runs * threshold * grid + 1e-9) + 1
    value = np.zeros(needed + 1)
    value[0] = 1.0
    for _ in range(runs):
        options = [(1 - units / grid) * value[np.maximum(np.arange(needed + 1) - units, 0)]
                   for units in range(grid + 1)]
        value = np.max(options, axis=0)
    return float(value[needed])


def _sv_tree_value(indicators: tuple[int, ...], eps: float) -> float:
    values = np.array(indicators, dtype=np.float64)[None, :]
    return _worst_block_choice(np.ones(1), values.astype(bool), eps) if values.size else 0.0


@pytest.mark.parametrize("blocks, eps", [(2, 0.01), (4, 0.1), (8, 0.05)])
def test_chosen_block_bad_term_against_exact_dynamic_program(blocks, eps):
    """Docs, Sections 3 and 5 at delta = 0: the worst adversary over all N2 blocks (each block's
    Bbar_i chosen adaptively on everything earlier, grid 1/20) and the worst SV choice of j give
    P(chosen block accepted, Lbar^j > theta) <= (1 + 2 eps)^k exp(-n D(0 || theta)).
    Exact backward induction over blocks: V(S) on the set S of earlier blocks where B_l held."""
    runs, threshold = 40, 0.05
    best = _single_block_worst(runs, threshold, grid=20)  # max P(B_l); min P(B_l) = 0 (Bbar = 0)
    value = {subset: _sv_tree_value(subset, eps)
             for subset in itertools.product((0, 1), repeat=blocks)}
    for position in reversed(range(blocks)):
        value = {prefix: max(value[prefix + (0,)], value[prefix + (0,)]
                             + best * (value[prefix + (1,)] - value[prefix + (0,)]))
                 for prefix in itertools.product((0, 1), repeat=position)}
    worst = value[()]
    bound = (1 + 2 * eps) ** math.log2(blocks) * (1 - threshold) ** runs
    assert best <= (1 - threshold) ** runs * (1 + 1e-9)
    assert worst <= bound * (1 + 1e-9)
    assert worst >= best  # the adversary can at least make one block bad
    # the certificate's bad term covers device 1 (one martingale bound) plus this one, twice each
    cert = certify_protocol2_improved(runs, blocks, eps, 0.0, 1, s=threshold)
    assert 2.0**cert.log2_bad_term >= 2 * (best + worst) * (1 - 1e-9)


def test_paper_bit_order_gap_by_exact_bayes():
    """Docs, Section 0: with the order u, v a valid SV source (each v bit copies u_1 with
    probability 1/2 + eps) makes P(u_1 | v) leave [1/2 - eps, 1/2 + eps] (here > 0.99), so
    Lemma 10's factor fails for device 1; with v drawn first, u_1 given v is SV by construction."""
    eps, copies = 0.1, 30
    likelihood_ratio = ((0.5 + eps) / (0.5 - eps)) ** copies  # v all equal to 0
    posterior = likelihood_ratio / (1 + likelihood_ratio)   # P(u_1 = 0 | v = 0...0)
    assert posterior > 0.99 > 0.5 + eps


def test_lemma13_matches_eq50_form():
    """eps_L13 = sqrt(2 ln2 N2^(log2(1 + 2 eps)) n log|Sigma| / N2), eq. (50) as printed."""
    for runs, blocks, eps in [(73, 2**23, 0.01), (10, 1, 0.0), (500, 2**40, 0.2)]:
        printed = math.sqrt(2 * math.log(2) * blocks ** math.log2(1 + 2 * eps) * runs * 4 / blocks)
        assert 2.0 ** log2_lemma13(runs, blocks, eps) == pytest.approx(printed, rel=1e-12)


def _cyclic(n: int) -> int:
    """Smallest prime >= n with 2 a primitive root, by trial division."""
    candidate = max(n, 3)
    while True:
        if all(candidate % d for d in range(2, math.isqrt(candidate) + 1)):
            order, power = 1, 2 % candidate
            while power != 1:
                power, order = power * 2 % candidate, order + 1
            if order == candidate - 1:
                return candidate
        candidate += 1


def _independent_log2(runs: int, blocks: int, eps: float, bits: int, s: float,
                      route: str) -> float:
    """The docs' final bounds at delta = 0 (C = 1, S = (1 - s)^n), written out with plain math."""
    c = (0.5 - eps) ** 4
    entropy = 2 * runs * max(0.0, math.log2(3 / (1 + s / c)))
    length = _cyclic(8 * runs)
    good = 2.0 ** ((bits + 1 + length * math.log2(1 + 4 * eps**2) - entropy) / 2)
    choice = (1 + 2 * eps) ** math.log2(blocks)
    if route == "chain-rule":
        total = good + 2 * (1 + choice) * (1 - s) ** runs
    else:
        lemma13 = math.sqrt(2 * math.log(2) * 4 * runs * (0.5 + eps) ** math.log2(blocks))
        total = good + 4 * choice * (1 - s) ** runs + 2 * lemma13
    return bits + math.log2(total)


@pytest.mark.parametrize("eps", [0.0, 0.01, 0.05])
def test_chain_rule_plan_against_independent_formula(eps):
    """One bit at 0.05: N2 = 1; n meets the independent formula, n - 1 fails on a fine s grid."""
    plan = plan_protocol2_improved(1, 0.05, eps, 0.0)
    runs = plan.required_runs
    assert plan.required_blocks == 1 and plan.total_runs == 2 * runs
    assert plan.certificate.t_length == _cyclic(8 * runs)
    assert _independent_log2(runs, 1, eps, 1, plan.certificate.s, "chain-rule") <= math.log2(0.05)
    grid = np.linspace(1e-4, 2 * (0.5 - eps) ** 4 - 1e-6, 4000)
    assert min(_independent_log2(runs - 1, 1, eps, 1, float(s), "chain-rule")
               for s in grid) > math.log2(0.05)


def test_de_finetti_plan_matches_issue_and_independent_formula():
    """The issue's route at eps = 0.01, one bit at 0.05: about N2 = 2^23 blocks of n ~ 70
    (issue 10: 2^23 and n ~ 73, ~6e8 runs); N2 certifies by the independent formula and N2 / 2
    fails at that n on a fine s grid; 64 bits at 2^-40 are reported out of reach."""
    plan = plan_protocol2_improved(1, 0.05, 0.01, 0.0, route="de-finetti")
    runs, blocks = plan.required_runs, plan.required_blocks
    assert blocks == 2**23 and 60 <= runs <= 80 and 4e8 <= plan.total_runs <= 8e8
    assert (_independent_log2(runs, blocks, 0.01, 1, plan.certificate.s, "de-finetti")
            <= math.log2(0.05))
    grid = np.linspace(1e-4, 2 * 0.49**4 - 1e-6, 4000)
    for fewer_runs, fewer_blocks in ((runs, blocks // 2), (runs - 1, blocks)):
        assert min(_independent_log2(fewer_runs, fewer_blocks, 0.01, 1, float(s), "de-finetti")
                   for s in grid) > math.log2(0.05)
    far = plan_protocol2_improved(64, 2.0**-40, 0.01, 0.0, route="de-finetti")
    assert far.required_runs is None and far.reason.startswith("out of reach")
    assert "N2 = 2^" in far.reason


def test_chain_rule_limit_agrees_with_protocol1_on_2n_runs():
    """N2 = 1, delta = 0: the good term equals Protocol I's on 2n runs (same pair length 8n, same
    min-entropy 2n f), the bad term is 4 (1 - s)^n against 2 (1 - s)^(2n); so the Protocol II
    bound is never below Protocol I's on 2n runs, and its planned n is at least half of it."""
    for runs, eps, s in [(300, 0.01, 0.05), (746, 0.01, 0.03), (200, 0.1, 0.02)]:
        two = certify_protocol2_improved(runs, 1, eps, 0.0, 64, s=s)
        one = certify_protocol1_improved(2 * runs, eps, 0.0, 64, s=s)
        assert two.log2_good_term == pytest.approx(one.log2_good_term, abs=1e-12)
        assert two.log2_bad_term == pytest.approx(2 + runs * math.log2(1 - s), abs=1e-9)
        assert two.log2_error_bound >= one.log2_error_bound - 1e-12
    plan = plan_protocol2_improved(64, 2.0**-40, 0.01, 0.0)
    assert plan.required_runs is not None
    assert 2 * plan.required_runs >= 868  # Protocol I plans 868 runs (reviewed figure)


def test_monotone_in_blocks_runs_bits_eps_and_delta():
    base = certify_protocol2_improved(200, 4, 0.01, 0.0, 8).log2_error_bound
    assert certify_protocol2_improved(200, 64, 0.01, 0.0, 8).log2_error_bound > base
    assert certify_protocol2_improved(400, 4, 0.01, 0.0, 8).log2_error_bound < base
    assert certify_protocol2_improved(200, 4, 0.01, 0.0, 16).log2_error_bound > base
    assert certify_protocol2_improved(200, 4, 0.05, 0.0, 8).log2_error_bound > base
    assert certify_protocol2_improved(200, 4, 0.01, 0.01, 8).log2_error_bound > base
    finetti = [certify_protocol2_improved(70, 2**k, 0.01, 0.0, 1, route="de-finetti")
               for k in (10, 20, 30)]
    terms = [certificate.log2_de_finetti_term for certificate in finetti]
    assert terms[0] > terms[1] > terms[2]


def test_local_deterministic_boxes_never_certify():
    """All 256 local deterministic boxes have Bell sum >= 2 (enumerated), so their SV-Bell value
    is >= 2 (1/2 - eps)^4; a delta that accepts them leaves no min-entropy on either route."""
    table = bell_table()
    sums = []
    for strategy in itertools.product((0, 1), repeat=8):
        box = np.zeros((16, 16))
        for u in range(16):
            x = sum(strategy[2 * k + ((u >> (3 - k)) & 1)] << (3 - k) for k in range(4))
            box[u, x] = 1
        sums.append(float(np.sum(table * box)))
    assert min(sums) == 2
    for eps in (0.0, 0.01, 0.1):
        for route in ("chain-rule", "de-finetti"):
            plan = plan_protocol2_improved(1, 0.5, eps, 2 * (0.5 - eps) ** 4, route=route)
            assert plan.required_runs is None and "no min-entropy" in plan.reason


def test_short_seed_extractor_on_the_pair():
    """The polynomial hash on x || y_j certifies at eps = 0.3 where the cyclic shift cannot; at
    eps = 0.2, 64 bits, n = 4,962 certifies at 2^-40 (the independent review found an s doing it,
    which a local search in s alone missed: the best field degree switches with s)."""
    assert certify_protocol2_improved(4962, 1, 0.2, 0.0, 64,
                                      extractor="polynomial-hash").meets(2.0**-40)
    assert plan_protocol2_improved(1, 0.05, 0.3, 0.0).required_runs is None
    plan = plan_protocol2_improved(1, 0.05, 0.3, 0.0, extractor="polynomial-hash")
    assert plan.required_runs is not None and plan.certificate.field_degree is not None


def test_bad_inputs_name_parameter():
    with pytest.raises(ValueError, match="blocks"):
        certify_protocol2_improved(100, 3, 0.01, 0.0, 1)
    with pytest.raises(ValueError, match="route"):
        certify_protocol2_improved(100, 4, 0.01, 0.0, 1, route="paper")
    with pytest.raises(ValueError, match="s must"):
        certify_protocol2_improved(100, 4, 0.01, 0.0, 1, s=-1.0)
    with pytest.raises(ValueError, match="runs"):
        certify_protocol2_improved(0, 4, 0.01, 0.0, 1)


class _RecordingSource:
    """An SV source that logs every request (``("settings", runs)`` or ``("bits", count)``) and
    passes it on, so a test can read the order in which the protocol draws its SV bits."""

    def __init__(self, source) -> None:
        self.source, self.requests = source, []
        self.eps, self.name, self.secure = source.eps, source.name, source.secure

    def settings(self, runs: int) -> np.ndarray:
        self.requests.append(("settings", runs))
        return self.source.settings(runs)

    def bits(self, count: int) -> np.ndarray:
        self.requests.append(("bits", count))
        return self.source.bits(count)


def _ideal_pair(first_seed: int, second_seed: int):
    from qdevices import FourPartyDevice

    return FourPartyDevice(0.0, seed=first_seed), FourPartyDevice(0.0, seed=second_seed)


def test_run_at_the_planned_size_certifies_and_draws_v_before_u():
    """Ideal devices (noise 0), iid-high eps = 0.01 source (seed 7), 1 bit at 0.05: the plan is
    the chain-rule route with N2 = 1 and n <= 53 (the review's independent smallest n for the
    cyclic shift; the better of the two extractors can only lower it). The run certifies; its SV
    requests are v (device 2), u (device 1), j (0 bits), t; the output equals the extractor named
    by the certificate applied, here, to replayed data in that order (x || y, seed t)."""
    from extractors.polynomial_hash import polynomial_hash_extract
    from extractors.two_source import cyclic_shift_extract, zero_pad
    from protocols.amplification.improved_protocol2 import SHORT_SEED_EXTRACTOR, best_plan
    from protocols.amplification.protocol2 import run_protocol2
    from qdevices.randomness import Randomness
    from qdevices.sources import named_source

    plan = best_plan(1, 0.05, 0.01, 0.0)
    runs = plan.required_runs
    assert plan.route == "chain-rule" and plan.required_blocks == 1 and runs <= 53
    assert plan.total_runs == 2 * runs
    source = _RecordingSource(named_source("iid-high", 0.01, Randomness(seed=7)))
    result = run_protocol2(*_ideal_pair(11, 12), source, runs, 1, 0.0, 0.05, output_bits=1,
                           chunk_runs=20)
    assert result.status == "certified" and result.output.size == 1
    report = result.to_dict()
    assert report["certificate_chain"] == "improved" and report["route"] == "chain-rule"
    assert report["chosen_block"] == 0 and report["adversary_model"] == "no-signaling"
    assert report["log2_error_bound"] <= math.log2(0.05)
    chunks = [count for kind, count in source.requests if kind == "settings"]
    assert chunks == [20, 20, runs - 40] * 2  # all of v first, then u
    assert source.requests[-2:] == [("bits", 0), ("bits", result.certificate.t_length)]
    replay = named_source("iid-high", 0.01, Randomness(seed=7))
    first, second = _ideal_pair(11, 12)
    y = second.measure(replay.settings(runs)).reshape(-1)
    x = first.measure(replay.settings(runs)).reshape(-1)
    replay.bits(0)
    t = replay.bits(result.certificate.t_length)
    pair = np.concatenate([x, y])
    if result.certificate.extractor == SHORT_SEED_EXTRACTOR:
        expected = polynomial_hash_extract(pair, t, t.size // 2, 1)
    else:
        expected = cyclic_shift_extract(zero_pad(pair, t.size), t, 1)
    assert result.output.tolist() == np.asarray(expected).tolist()


class _OneBadBlockDevice:
    """Ideal device except in block ``bad_block`` of ``runs`` runs, which answers with the local
    deterministic strategy 0 (it violates the inequality on some tested setting)."""

    def __init__(self, runs: int, bad_block: int) -> None:
        from qdevices import FourPartyDevice, LocalFourPartyDevice

        self.runs, self.bad_block, self.position = runs, bad_block, 0
        self.ideal = FourPartyDevice(0.0, seed=61)
        self.local = LocalFourPartyDevice(LocalFourPartyDevice.all_strategies()[0])

    def measure(self, settings: np.ndarray) -> np.ndarray:
        blocks = (self.position + np.arange(len(settings))) // self.runs
        self.position += len(settings)
        outputs = self.ideal.measure(settings)
        bad = blocks == self.bad_block
        outputs[bad] = self.local.measure(settings[bad])
        return outputs


def test_chosen_block_is_drawn_after_v_and_u_and_not_published():
    """N2 = 8, n = 400, iid-low eps = 0.2 (seed 62): j is the 3 SV bits (MSB first) after
    v^1..v^8 and u; a violating block aborts the run only when it is j; the report withholds j."""
    from qdevices import FourPartyDevice
    from protocols.amplification.protocol2 import run_protocol2
    from qdevices.randomness import Randomness
    from qdevices.sources import named_source

    runs, blocks = 400, 8
    replay = named_source("iid-low", 0.2, Randomness(seed=62))
    replay.settings(runs * blocks + runs)
    index = replay.bits(3)
    chosen = 4 * int(index[0]) + 2 * int(index[1]) + int(index[2])
    for bad_block in (chosen, (chosen + 3) % blocks):
        result = run_protocol2(FourPartyDevice(0.0, seed=63), _OneBadBlockDevice(runs, bad_block),
                               named_source("iid-low", 0.2, Randomness(seed=62)), runs, blocks,
                               0.01, 1e-30, output_bits=1, chunk_runs=700)
        assert result.block is None and result.to_dict()["chosen_block"] is None
        assert result.to_dict()["chosen_block_published"] is False
        assert result.block_test.accepted == (bad_block != chosen)
        assert result.status == ("aborted" if bad_block == chosen else "not certified")


def test_too_few_runs_report_the_plan_of_the_same_route():
    from protocols.amplification.improved_protocol2 import best_plan
    from protocols.amplification.protocol2 import run_protocol2
    from qdevices.randomness import Randomness
    from qdevices.sources import named_source

    result = run_protocol2(*_ideal_pair(1, 2), named_source("uniform", 0.01, Randomness(seed=3)),
                           30, 4, 0.0, 0.05, output_bits=1, route="de-finetti")
    plan = best_plan(1, 0.05, 0.01, 0.0, "de-finetti")
    assert result.status == "not certified" and result.output is None
    assert (result.required_runs, result.required_blocks) == (plan.required_runs,
                                                             plan.required_blocks)
    assert result.to_dict()["certificate"]["route"] == "de-finetti"


def test_cli_plans_both_routes(capsys):
    """The review's independent numbers (1 bit at 0.05, eps = 0.01, ideal device): chain-rule
    N2 = 1, n <= 53; de Finetti N2 = 2^23 (2^22: no n), n <= 67; 64 bits at 2^-40 on the de
    Finetti route need N2 = 2^229: out of reach."""
    import json

    from protocols.cli import main

    common = ["amplify", "--plan", "--protocol", "2", "--sv-eps", "0.01", "--json"]
    assert main(common + ["--bits", "1", "--error", "0.05"]) == 3
    plan = json.loads(capsys.readouterr().out)
    assert plan["route"] == "chain-rule" and plan["required_blocks"] == 1
    assert plan["required_runs"] <= 53 and plan["total_runs"] == 2 * plan["required_runs"]
    assert main(common + ["--bits", "1", "--error", "0.05", "--route", "de-finetti"]) == 3
    plan = json.loads(capsys.readouterr().out)
    assert plan["log2_required_blocks"] == 23 and 60 <= plan["required_runs"] <= 67
    assert main(common + ["--bits", "64", "--route", "de-finetti"]) == 3
    plan = json.loads(capsys.readouterr().out)
    assert plan["required_runs"] is None and "out of reach" in plan["reason"]
    assert "2^229" in plan["reason"]
    assert main(["amplify", "--plan", "--sv-eps", "0.01", "--route", "de-finetti"]) == 2
    assert "--route" in capsys.readouterr().err
