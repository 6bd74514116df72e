"""Fidelity of the cheap stages: how well one-shot scores (each sharing
option) and zero-cost scores rank cells as the stand-alone proxy does, on
the same uniform cells (N cells x S proxy seeds), beside the proxy's own
seed-to-seed Spearman (the ceiling a cheap stage can reach).

Each stage's agreement is :func:`~.fidelity.summarize` of the proxy's
mIoU ``[cells, seeds]`` against the stage's score (one column): Spearman
and Kendall of the proxy's per-cell mean with bootstrap 95% intervals.
A non-finite score (e.g. NASWOT's ``-inf`` for a singular kernel) ranks
last, as the search ranks it.

The plots of the cheap stages are here too (:func:`plot_stage_fidelity`,
and :func:`plot_cheap_vs_proxy` for a search's report).
"""
from __future__ import annotations

import os.path as osp
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from scipy.stats import rankdata, spearmanr

from ..search.progress import num
from ..utils.io import atomic_write_json
from .fidelity import summarize

CHEAP_FIDELITY_FILE = 'cheap_fidelity.json'


@dataclass(frozen=True)
class StageFidelity:
    """One cheap stage against the proxy: rank correlations with their
    intervals (``None``: undefined, a constant side), and its cost."""
    stage: str
    cells: int
    spearman: Optional[float]
    spearman_ci95: Optional[List[Optional[float]]]
    kendall: Optional[float]
    kendall_ci95: Optional[List[Optional[float]]]
    #: seconds the stage spent: supernet training (one-shot) and scoring
    seconds: float = 0.0


def score_ranks(scores: Sequence[Optional[float]]) -> np.ndarray:
    """Ranks of ``scores`` (1 = lowest); a non-finite or missing score
    (``null`` in a summary) ranks last, as the search ranks it."""
    x = np.array(scores, dtype=float)  # None -> NaN
    x[~np.isfinite(x)] = -np.inf
    return rankdata(x)


def stage_fidelity(stage: str, proxy: np.ndarray,
                   scores: Sequence[Optional[float]],
                   seconds: float = 0.0) -> StageFidelity:
    """``proxy`` mIoU ``[cells, seeds]`` against the stage's ``scores``
    (one per cell, same order; rank correlations, so their ranks)."""
    s = summarize(proxy, score_ranks(scores)[:, None])
    return StageFidelity(stage, int(proxy.shape[0]), s['spearman'],
                         s['spearman_ci95'], s['kendall'],
                         s['kendall_ci95'], float(seconds))


def ceiling(proxy: np.ndarray) -> Optional[float]:
    """The proxy's seed-0 vs seed-1 Spearman (``None`` with one seed)."""
    if proxy.shape[1] < 2:
        return None
    rho = spearmanr(proxy[:, 0], proxy[:, 1])[0]
    return float(rho) if np.isfinite(rho) else None


def table(stages: Sequence[StageFidelity],
          proxy_ceiling: Optional[float]) -> List[str]:
    """The markdown table: one row per stage, the ceiling last."""
    def ci(v, bounds):
        if v is None:
            return 'n/a'
        lo, hi = bounds or (None, None)
        return f'{num(v)} [{num(lo)}, {num(hi)}]'
    lines = ['| stage | cells | Spearman [95% CI] | Kendall [95% CI] | '
             'seconds |', '| --- | --- | --- | --- | --- |']
    lines += [f'| {s.stage} | {s.cells} | {ci(s.spearman, s.spearman_ci95)} '
              f'| {ci(s.kendall, s.kendall_ci95)} | {s.seconds:.1f} |'
              for s in stages]
    lines.append(f'| proxy, seed 0 vs seed 1 (ceiling) | '
                 f'{stages[0].cells if stages else 0} | {num(proxy_ceiling)} '
                 '| | |')
    return lines


def write_cheap_fidelity(work_dir: str, proxy: np.ndarray,
                         cells: Sequence[Mapping[str, Any]],
                         stages: Sequence[StageFidelity]
                         ) -> Dict[str, Any]:
    """``cheap_fidelity.json``, ``cheap_fidelity.md`` (the table) and
    ``cheap_fidelity.png`` (one plot: each stage's Spearman and Kendall
    with intervals, the ceiling as a line) in ``work_dir``; returns the
    summary."""
    top = ceiling(proxy)
    summary = dict(cells=int(proxy.shape[0]), seeds=int(proxy.shape[1]),
                   proxy_seed_spearman=top,
                   stages=[asdict(s) for s in stages], per_cell=list(cells))
    atomic_write_json(osp.join(work_dir, CHEAP_FIDELITY_FILE), summary)
    with open(osp.join(work_dir, 'cheap_fidelity.md'), 'w') as f:
        f.write('\n'.join(table(stages, top)) + '\n')
    plot_stage_fidelity(
        [s.stage for s in stages], [s.spearman for s in stages],
        [s.spearman_ci95 for s in stages], [s.kendall for s in stages],
        [s.kendall_ci95 for s in stages], top,
        osp.join(work_dir, 'cheap_fidelity.png'))
    return summary


# --- plots ----------------------------------------------------------------
def _figure(height: float):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt, plt.subplots(figsize=(6, height))


def _save(plt, fig, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_stage_fidelity(stages: Sequence[str],
                        spearman: Sequence[Optional[float]],
                        spearman_ci: Sequence[Optional[Sequence]],
                        kendall: Sequence[Optional[float]],
                        kendall_ci: Sequence[Optional[Sequence]],
                        proxy_ceiling: Optional[float], path: str) -> str:
    """Each cheap stage's Spearman and Kendall against the proxy with
    their 95% intervals, the proxy's own seed-to-seed Spearman (the
    ceiling) as a line."""
    plt, (fig, ax) = _figure(0.5 * len(stages) + 1.6)
    y = np.arange(len(stages))
    for offset, values, cis, name, color in (
            (-0.18, spearman, spearman_ci, 'Spearman', '#3182bd'),
            (0.18, kendall, kendall_ci, 'Kendall', '#e6550d')):
        v = np.array([np.nan if x is None else x for x in values])
        lo = np.array([np.nan if not c or c[0] is None else c[0]
                       for c in cis])
        hi = np.array([np.nan if not c or c[1] is None else c[1]
                       for c in cis])
        ax.errorbar(v, y + offset, xerr=[np.abs(v - lo), np.abs(hi - v)],
                    fmt='o', color=color, label=name, capsize=2)
    if proxy_ceiling is not None:
        ax.axvline(proxy_ceiling, color='#636363', linestyle='--',
                   label='proxy seed-to-seed Spearman')
    ax.axvline(0, color='#bdbdbd', linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(stages, fontsize=8)
    ax.set_xlim(-1, 1)
    ax.set_xlabel('rank correlation with the proxy (95% CI)')
    ax.legend(fontsize=7, loc='lower left')
    return _save(plt, fig, path)


def plot_cheap_vs_proxy(cheap: Sequence[float], proxy: Sequence[float],
                        path: str, stage: str,
                        correlations: str = '') -> str:
    """A search's cheap-stage score (one-shot mIoU with inherited weights,
    or a zero-cost score) against the proxy mIoU of the cells the proxy
    trained."""
    plt, (fig, ax) = _figure(4)
    ax.scatter(cheap, proxy, color='#3182bd')
    ax.set_xlabel(f'{stage} score')
    ax.set_ylabel('proxy mIoU')
    ax.set_title(correlations, fontsize=9)
    return _save(plt, fig, path)
