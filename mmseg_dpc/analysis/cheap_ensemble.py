"""Ensembles of a cheap stage's runs: do several runs of one stage (e.g.
supernets of other seeds), their ranks averaged, rank cells closer to the
stand-alone proxy than one run does?

An ensemble that gains says the runs err apart (one run's noise); one that
does not says their error is shared (a bias of the stage), which more runs
cannot remove. The runs are fidelity summaries (``cheap_fidelity.json``,
:mod:`.cheap_fidelity`) of the same cells and proxy runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence

import numpy as np

from ..search.progress import num
from .cheap_fidelity import score_ranks, stage_fidelity


@dataclass(frozen=True)
class EnsembleFidelity:
    """Disjoint groups of ``size`` runs, each ranking the cells by their
    mean rank over the group: each group's agreement with the proxy."""
    size: int
    kendall: List[Optional[float]]
    spearman: List[Optional[float]]

    @property
    def runs_used(self) -> int:
        return self.size * len(self.kendall)

    @property
    def mean_kendall(self) -> Optional[float]:
        return _mean(self.kendall)

    @property
    def mean_spearman(self) -> Optional[float]:
        return _mean(self.spearman)


def _mean(values: Sequence[Optional[float]]) -> Optional[float]:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def ensemble_fidelity(runs: Sequence[Mapping[str, Any]], stage: str,
                      sizes: Sequence[int]) -> List[EnsembleFidelity]:
    """Fidelity of ensembles of ``stage`` over ``runs`` (fidelity
    summaries, in the order given): for each size ``k``, the groups
    ``runs[0:k]``, ``runs[k:2k]``, ...; runs after the last whole group are
    left out (:attr:`EnsembleFidelity.runs_used`). ``ValueError`` naming
    what does not fit: runs of other cells or another proxy (their proxy
    mIoU differ), a run without ``stage``, a size out of
    ``1..len(runs)``."""
    if not runs:
        raise ValueError('no runs to average')
    first = {c['arch_hash']: c for c in runs[0]['per_cell']}
    hashes = sorted(first)
    ranks = []
    for i, run in enumerate(runs):
        cells = {c['arch_hash']: c for c in run['per_cell']}
        if sorted(cells) != hashes:
            raise ValueError(f'run {i} scored other cells than run 0 '
                             f'({len(set(cells) ^ set(hashes))} differ)')
        if any(cells[h]['proxy'] != first[h]['proxy'] for h in hashes):
            raise ValueError(f'run {i}: the proxy mIoU of its cells differ '
                             'from run 0\'s (another proxy task or seeds)')
        if any(stage not in cells[h] for h in hashes):
            have = set(cells[hashes[0]]) - {'arch_hash', 'arch', 'proxy'}
            raise ValueError(f'run {i} has no {stage!r} scores; it has '
                             f'{sorted(have)}')
        ranks.append(score_ranks([cells[h][stage] for h in hashes]))
    bad = [k for k in sizes if not 1 <= k <= len(runs)]
    if bad:
        raise ValueError(f'ensemble sizes {bad}: each must be 1..{len(runs)}'
                         ' (the runs given)')
    proxy = np.array([first[h]['proxy'] for h in hashes], dtype=float)
    out = []
    for k in sizes:
        groups = [ranks[i:i + k] for i in range(0, len(runs) - k + 1, k)]
        fits = [stage_fidelity(stage, proxy, np.mean(g, axis=0))
                for g in groups]
        out.append(EnsembleFidelity(k, [f.kendall for f in fits],
                                    [f.spearman for f in fits]))
    return out


def ensemble_table(stage: str, rows: Sequence[EnsembleFidelity]
                   ) -> List[str]:
    """The markdown table: one row per ensemble size."""
    lines = [f'| {stage} runs averaged | groups | runs used | Kendall per '
             'group | mean Kendall | mean Spearman |',
             '| --- | --- | --- | --- | --- | --- |']
    lines += [f'| {r.size} | {len(r.kendall)} | {r.runs_used} | '
              f'{", ".join(num(k, 3) for k in r.kendall)} | '
              f'{num(r.mean_kendall, 3)} | {num(r.mean_spearman, 3)} |'
              for r in rows]
    return lines
