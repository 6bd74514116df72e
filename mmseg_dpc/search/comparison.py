"""Two models compared over training seeds: the difference of their mean
mIoU with a confidence interval, a verdict that more seeds can make
decisive, and where the next seeds should go.

A difference is *better* or *worse* only where its test rejects "no
difference" after Holm's correction across the comparisons of one verdict
(so its interval, taken at the level of its Holm rank, excludes zero);
otherwise it is *indistinguishable*, with the smallest difference the
seeds so far could have detected. By default the comparison is paired by
seed: two models trained with one seed saw the same data order and start
from the same backbone, so the seed's share of the noise cancels. scipy
computes the tests and intervals (``ttest_rel``, and Welch's
``ttest_ind`` where pairing is off or seeds differ).

Racing (F-race, irace) spends seeds where they decide: after each round,
a comparison already decided stops; the models of the others get another
seed, up to a cap.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy import stats

BETTER, WORSE, INDISTINGUISHABLE = 'better', 'worse', 'indistinguishable'
# the power at which the smallest detectable difference is stated
POWER = 0.8


@dataclass(frozen=True)
class Difference:
    """Model ``a`` minus model ``b``: their mean mIoU difference, its
    interval at ``confidence``, the two-sided p-value, and the smallest
    difference these seeds detect with :data:`POWER`. Paired tests use the
    seeds both models have."""
    difference: float
    ci: Tuple[float, float]
    confidence: float
    p: Optional[float]
    paired: bool
    seeds: Tuple[int, int]
    detectable: Optional[float]
    per_seed_std: float  # the pooled standard deviation of one run

    @property
    def effect(self) -> Optional[float]:
        """The old figure: difference / pooled seed std."""
        return (self.difference / self.per_seed_std
                if self.per_seed_std > 0 else None)


def _finite(x: float) -> Optional[float]:
    return float(x) if math.isfinite(x) else None


def difference(a: Mapping[int, float], b: Mapping[int, float],
               paired: bool = True, confidence: float = 0.95) -> Difference:
    """Compare ``a`` and ``b`` (mIoU by seed, two or more each). Paired
    where ``paired`` and the two share two or more seeds (on those seeds);
    else Welch's unequal-variance test on all of each."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f'difference: two or more seeds each, got '
                         f'{len(a)} and {len(b)}')
    common = sorted(set(a) & set(b))
    pair = paired and len(common) >= 2
    if pair:
        x = np.array([a[s] for s in common], float)
        y = np.array([b[s] for s in common], float)
    else:
        x = np.array(list(a.values()), float)
        y = np.array(list(b.values()), float)
    diff = float(x.mean() - y.mean())
    pooled = math.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    with warnings.catch_warnings():  # constant samples: NaN, not an error
        warnings.simplefilter('ignore', RuntimeWarning)
        res = (stats.ttest_rel(x, y) if pair else
               stats.ttest_ind(x, y, equal_var=False))
        low, high = res.confidence_interval(confidence)
        df = float(res.df)
    p = _finite(res.pvalue)
    se = (np.std(x - y, ddof=1) / math.sqrt(len(x)) if pair else
          math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y)))
    if p is None:  # no spread: the difference is exact
        low = high = diff
        detectable = 0.0 if se == 0 else None
    else:
        detectable = float((stats.t.ppf(1 - (1 - confidence) / 2, df) +
                            stats.t.ppf(POWER, df)) * se)
    return Difference(diff, (float(low), float(high)), confidence, p, pair,
                      (len(x), len(y)), detectable, pooled)


@dataclass(frozen=True)
class NoiseRatio:
    """Seed standard deviation of ``a`` over that of ``b``, its interval
    at ``confidence`` (the F distribution of a variance ratio, as for
    normal runs), and the Brown-Forsythe p-value of equal spread (Levene's
    test about the median: robust to non-normal spread; ``None`` where a
    group has fewer than 3 runs, whose deviations from the median are
    tied). ``dfs``: the degrees of freedom of each side's variance. Both
    take the runs as independent: runs that share a seed share its data
    order, so where that noise is common to the models the degrees of
    freedom are overstated and the interval is too narrow."""
    ratio: float
    ci: Tuple[float, float]
    confidence: float
    p: Optional[float]
    dfs: Tuple[int, int]


def _spread(groups: Sequence[Sequence[float]], name: str
            ) -> Tuple[float, int, np.ndarray, int]:
    """Pooled variance of ``groups`` (each about its own mean), its degrees
    of freedom, each run's absolute deviation from its group's median, and
    the smallest group's size."""
    arrays = [np.asarray(g, float) for g in groups]
    if not arrays or any(len(g) < 2 for g in arrays):
        raise ValueError(f'noise_ratio: {name} needs groups of two or more '
                         f'runs, got sizes {[len(g) for g in arrays]}')
    df = sum(len(g) - 1 for g in arrays)
    var = sum(float(((g - g.mean()) ** 2).sum()) for g in arrays) / df
    return var, df, np.concatenate([abs(g - np.median(g)) for g in arrays]
                                   ), min(len(g) for g in arrays)


def noise_ratio(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]],
                confidence: float = 0.95) -> NoiseRatio:
    """How much more ``a`` varies over seeds than ``b``: each a list of
    models' runs (mIoU by seed), pooled about each model's own mean, so
    that several models of one kind (e.g. DPC heads) share one estimate."""
    var_a, df_a, dev_a, least_a = _spread(a, 'a')
    var_b, df_b, dev_b, least_b = _spread(b, 'b')
    if var_b == 0:
        raise ValueError('noise_ratio: the reference runs do not vary')
    var = var_a / var_b
    tail = (1 - confidence) / 2
    low = var / stats.f.ppf(1 - tail, df_a, df_b)
    high = var / stats.f.ppf(tail, df_a, df_b)
    with warnings.catch_warnings():  # constant deviations: NaN
        warnings.simplefilter('ignore', RuntimeWarning)
        p = (_finite(stats.f_oneway(dev_a, dev_b).pvalue)
             if min(least_a, least_b) >= 3 else None)
    return NoiseRatio(math.sqrt(var), (math.sqrt(low), math.sqrt(high)),
                      confidence, p, (df_a, df_b))


def seeds_for(sd: float, half_width: float, confidence: float = 0.95,
              most: int = 10_000) -> Optional[int]:
    """The fewest seeds whose interval of a mean difference (paired, or
    one model's mean) with per-seed standard deviation ``sd`` is at most
    +-``half_width`` at ``confidence``; ``None`` beyond ``most``. ``sd`` is
    taken as known: from a few seeds' estimate the count is a guess, as
    likely short as long."""
    if half_width <= 0:
        raise ValueError(f'seeds_for: half_width must be > 0, got '
                         f'{half_width}')
    if sd <= 0:
        return 2
    tail = 1 - (1 - confidence) / 2
    for n in range(2, most + 1):
        if stats.t.ppf(tail, n - 1) * sd / math.sqrt(n) <= half_width:
            return n
    return None


def holm(pvalues: Sequence[Optional[float]]) -> List[Optional[float]]:
    """Holm's step-down adjusted p-values (``None`` stays ``None`` and
    takes no part): ``p_(i) * (m - i + 1)``, made monotone, capped at 1."""
    order = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    m, running = len(order), 0.0
    out: List[Optional[float]] = [None] * len(pvalues)
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, p * (m - rank)))
        out[i] = running
    return out


@dataclass(frozen=True)
class Verdict:
    """One comparison of a verdict: the difference (interval at its Holm
    level), the Holm-adjusted p-value and what it decides."""
    name: str
    difference: Difference
    p_holm: Optional[float]
    verdict: str

    @property
    def decided(self) -> bool:
        return self.verdict != INDISTINGUISHABLE


def decide(pairs: Mapping[str, Tuple[Mapping[int, float],
                                     Mapping[int, float]]],
           paired: bool = True, alpha: float = 0.05) -> List[Verdict]:
    """The verdict on each ``name: (a, b)``, ``a`` against ``b``, Holm's
    correction across them: *better*/*worse* where the adjusted p-value is
    at most ``alpha``. A decided one's interval is taken at the confidence
    of its Holm rank (``1 - alpha / (m - rank)``), the others' at the level
    Holm stopped at (``1 - alpha / (m - rejected)``, as Strassburger and
    Bretz's Holm-compatible intervals), so an interval excludes zero
    exactly where its comparison is decided."""
    first = {n: difference(a, b, paired) for n, (a, b) in pairs.items()}
    names = list(first)
    adjusted = holm([first[n].p for n in names])
    ranked = sorted((first[n].p, n) for n in names
                    if first[n].p is not None)
    rejected = sum(p is not None and p <= alpha for p in adjusted)
    level = {n: 1 - alpha / (len(ranked) - min(r, rejected))
             for r, (_, n) in enumerate(ranked)}
    out = []
    for n, p_holm in zip(names, adjusted):
        a, b = pairs[n]
        d = difference(a, b, paired, level.get(n, 1 - alpha))
        if p_holm is not None and p_holm <= alpha:
            v = BETTER if d.difference > 0 else WORSE
        elif p_holm is None and d.detectable == 0.0 and d.difference != 0:
            v = BETTER if d.difference > 0 else WORSE  # exact, no noise
        else:
            v = INDISTINGUISHABLE
        out.append(Verdict(n, d, p_holm, v))
    return out


@dataclass(frozen=True)
class Round:
    """The next round of a race: ``seed``, trained for ``models``."""
    seed: int
    models: Tuple[str, ...]


def next_round(seeds: Mapping[str, Sequence[int]],
               undecided: Sequence[str], against: str,
               max_seeds: int) -> Optional[Round]:
    """Racing: what to train next. ``seeds``: each model's seeds tried so
    far (a failed run counts: it is not tried again within the race);
    ``undecided``: the models whose comparison with ``against`` (the
    searched cell) is not decided yet. While any is, and ``against`` has
    fewer than ``max_seeds``, the next seed after ``against``'s is trained
    for ``against`` and each undecided model, so every comparison stays
    paired on the seeds both have; ``None`` when the race is over."""
    have = list(seeds.get(against, ()))
    if not undecided or len(have) >= max_seeds:
        return None
    return Round(max(have) + 1 if have else 0, (against, *undecided))
