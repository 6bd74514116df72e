"""The verdict's statistics on hand-made numbers: intervals against
scipy's, Holm's correction, decisions that more seeds can make, and racing
that stops a decided comparison and continues an undecided one."""
import numpy as np
import pytest
from scipy import stats

from mmseg_dpc.search.comparison import (BETTER, INDISTINGUISHABLE, WORSE,
                                         Round, decide, difference, holm,
                                         next_round, noise_ratio, seeds_for)


def seeds(values, start=1):
    return {start + i: v for i, v in enumerate(values)}


def test_paired_and_unpaired_intervals_match_scipy():
    a = seeds([81.2, 82.9, 80.4, 83.1])
    b = seeds([80.1, 82.0, 79.9, 82.2])
    x, y = np.array(list(a.values())), np.array(list(b.values()))
    paired = difference(a, b)
    ref = stats.ttest_rel(x, y)
    assert paired.paired and paired.seeds == (4, 4)
    assert paired.p == pytest.approx(ref.pvalue)
    assert paired.ci == pytest.approx(tuple(ref.confidence_interval(0.95)))
    assert paired.difference == pytest.approx(x.mean() - y.mean())
    welch = difference(a, b, paired=False)
    ref = stats.ttest_ind(x, y, equal_var=False)
    assert not welch.paired
    assert welch.p == pytest.approx(ref.pvalue)
    assert welch.ci == pytest.approx(tuple(ref.confidence_interval(0.95)))
    # pairing removes the noise the seeds share: a narrower interval
    assert paired.ci[1] - paired.ci[0] < welch.ci[1] - welch.ci[0]
    assert paired.effect == pytest.approx(
        (x.mean() - y.mean()) / np.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2))


def test_pairs_on_common_seeds_and_falls_back_to_welch():
    a = seeds([1.0, 2.0, 3.5, 9.0])  # seeds 1-4
    b = {1: 0.5, 2: 1.0, 3: 3.0}
    d = difference(a, b)
    ref = stats.ttest_rel([1.0, 2.0, 3.5], [0.5, 1.0, 3.0])
    assert d.paired and d.seeds == (3, 3) and d.p == pytest.approx(
        ref.pvalue)
    disjoint = difference({1: 1.0, 2: 2.0}, {3: 1.5, 4: 2.5})
    assert not disjoint.paired and disjoint.seeds == (2, 2)
    with pytest.raises(ValueError, match='two or more seeds each'):
        difference({1: 1.0}, b)


def test_holm_adjusts_step_down():
    assert holm([0.01, 0.04, 0.03, None]) == pytest.approx(
        [0.03, 0.06, 0.06, None], abs=1e-12)
    # 0.5 x 2 = 1.0, then 0.9 x 1 raised to 1.0: monotone, capped at 1
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([0.2, 0.01]) == pytest.approx([0.2, 0.02])


def test_decisions_follow_holm_and_sharpen_with_seeds():
    rng = np.random.default_rng(0)
    base = rng.normal(80, 3.0, 20)  # the seed's share, common to all
    searched = base + 0.8 + rng.normal(0, 0.1, 20)
    aspp = base + rng.normal(0, 0.1, 20)
    worse = base - 3 + rng.normal(0, 0.1, 20)
    same = base + 0.8 + rng.normal(0, 0.1, 20)

    def verdicts(n):
        s = seeds(searched[:n])
        return {v.name: v for v in decide(dict(
            aspp=(s, seeds(aspp[:n])), worse=(s, seeds(worse[:n])),
            same=(s, seeds(same[:n]))))}

    v = verdicts(6)
    assert v['aspp'].verdict == BETTER and v['worse'].verdict == BETTER
    assert v['same'].verdict == INDISTINGUISHABLE
    assert v['aspp'].difference.ci[0] > 0  # the interval excludes zero
    assert v['same'].difference.ci[0] < 0 < v['same'].difference.ci[1]
    assert v['same'].difference.detectable > 0
    # Holm: each p multiplied by the number still in play, step down
    raw = [v[n].difference.p for n in ('aspp', 'worse', 'same')]
    assert [v[n].p_holm for n in ('aspp', 'worse', 'same')] == \
        pytest.approx(holm(raw))
    # the same means unpaired: the shared noise makes it undecidable
    unpaired = decide(dict(aspp=(seeds(searched[:6]), seeds(aspp[:6]))),
                      paired=False)[0]
    assert unpaired.verdict == INDISTINGUISHABLE
    # a worse searched cell is worse
    flipped = decide(dict(w=(seeds(worse[:6]), seeds(aspp[:6]))))[0]
    assert flipped.verdict == WORSE and flipped.difference.ci[1] < 0
    # more seeds detect smaller differences
    assert verdicts(12)['same'].difference.detectable < \
        v['same'].difference.detectable


def test_racing_stops_decided_and_continues_undecided():
    have = {'searched': [1, 2, 3], 'aspp': [1, 2, 3], 'median': [1, 2, 3]}
    assert next_round(have, ['median'], 'searched', 6) == Round(
        4, ('searched', 'median'))
    assert next_round(have, [], 'searched', 6) is None  # all decided
    full = {k: [1, 2, 3, 4, 5, 6] for k in have}
    assert next_round(full, ['median'], 'searched', 6) is None  # the cap


def test_an_interval_excludes_zero_exactly_where_decided():
    # raw p 0.029 and 0.044: each under 0.05, but Holm rejects neither
    # (0.029 > 0.05 / 2), so neither interval may exclude zero, though the
    # second's plain 95% interval does
    base = [80.0, 82.0, 79.0, 81.0]
    a = seeds([x + d for x, d in zip(base, [1, 2, 3, 1.2])])
    b = seeds([x + d for x, d in zip(base, [1, 2, 3, 0.8])])
    ref = seeds(base)
    assert difference(b, ref).ci[0] > 0
    v = decide(dict(a=(a, ref), b=(b, ref)))
    assert [x.verdict for x in v] == [INDISTINGUISHABLE] * 2
    for x in v:
        assert x.difference.confidence == pytest.approx(0.975)
        assert x.difference.ci[0] < 0 < x.difference.ci[1]
    # one decided: the other's interval at the level Holm stopped at
    strong = seeds([x + d for x, d in zip(base, [1, 1.1, 1.2, 1.05])])
    v = {x.name: x for x in decide(dict(s=(strong, ref), b=(b, ref)))}
    assert v['s'].verdict == BETTER and v['s'].difference.ci[0] > 0
    assert v['s'].difference.confidence == pytest.approx(0.975)
    assert v['b'].verdict == BETTER  # 0.044 <= 0.05 / 1
    assert v['b'].difference.confidence == pytest.approx(0.95)
    assert v['b'].difference.ci[0] > 0


def test_the_noise_ratio_of_one_model_each_is_brown_forsythe_and_f():
    a = [79.7, 84.1, 82.8, 84.6, 81.7, 83.9]
    b = [83.0, 83.4, 83.4, 85.7, 84.3, 84.4]
    r = noise_ratio([a], [b])
    var = np.var(a, ddof=1) / np.var(b, ddof=1)
    assert r.ratio == pytest.approx(np.sqrt(var)) and r.dfs == (5, 5)
    assert r.p == pytest.approx(stats.levene(a, b, center='median').pvalue)
    low, high = r.ci
    # the interval's ends are where the F test of the ratio is just
    # rejected at 5% (two-sided)
    assert stats.f.cdf(var / low ** 2, 5, 5) == pytest.approx(0.975)
    assert stats.f.cdf(var / high ** 2, 5, 5) == pytest.approx(0.025)
    assert low < 1 < high  # six seeds cannot tell 1.9x from 1x


def test_pooled_models_count_each_about_its_own_mean():
    """Two models at different levels but the same spread pool to that
    spread, not to the spread of their union."""
    a = [[80.0, 81.0, 82.0], [90.0, 91.0, 92.0]]
    b = [[85.0, 86.0, 87.0]]
    r = noise_ratio(a, b)
    assert r.ratio == pytest.approx(1.0) and r.dfs == (4, 2)
    with pytest.raises(ValueError, match='two or more runs'):
        noise_ratio([[80.0]], b)
    with pytest.raises(ValueError, match='do not vary'):
        noise_ratio(a, [[85.0, 85.0]])
    # two runs have tied deviations from their median: no spread test
    assert noise_ratio([[80.0, 82.0]], [[85.0, 86.0]]).p is None


def test_seeds_for_is_the_first_seed_count_whose_interval_fits():
    for sd, half, conf in ((1.5, 1.0, 0.95), (1.1, 1.0, 1 - 0.05 / 3),
                           (0.5, 0.5, 0.95)):
        n = seeds_for(sd, half, conf)

        def width(k):
            return stats.t.ppf(1 - (1 - conf) / 2, k - 1) * sd / np.sqrt(k)
        assert width(n) <= half < width(n - 1)
    assert seeds_for(0.0, 1.0) == 2
    assert seeds_for(100.0, 0.01, most=50) is None
    with pytest.raises(ValueError, match='half_width'):
        seeds_for(1.0, 0.0)
