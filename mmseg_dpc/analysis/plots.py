"""Plots of a search: branch contributions, progress, proxy vs full,
Pareto front. Each takes plain data and writes one PNG."""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..search.progress import rank_correlations

# a branch stands out when its contribution differs from the branches' mean
# by more than this fraction (and by more than two standard errors)
STANDS_OUT = 0.10


def _plt():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def branch_contributions(checkpoint: str) -> Dict[str, object]:
    """L1 norm of each branch's slice of the concat projection's weights
    (``l1``) and its standard error over the projection's output channels
    (``l1_se``), read from a trained checkpoint of a model with a DPC head
    (the paper's analysis of which branches matter)."""
    import torch
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)
    state = state.get('state_dict', state)
    key = next((k for k in state if k.endswith('dpc.project.conv.weight')),
               None)
    if key is None:
        raise ValueError(f'{checkpoint} holds no DPC head '
                         '(no *dpc.project.conv.weight)')
    w = state[key].abs()
    prefix = re.escape(key[:-len('project.conv.weight')])
    n = len({m.group(1) for k in state
             for m in [re.match(prefix + r'branches\.(\d+)\.', k)] if m})
    per = w.view(w.shape[0], n, -1).sum(dim=2)  # [output channel, branch]
    out = per.shape[0]
    se = (per.double().std(dim=0) * out ** 0.5 if out > 1 else
          torch.zeros(n))
    return dict(l1=per.sum(dim=0).tolist(), l1_se=se.tolist(),
                num_branches=n)


@dataclass(frozen=True)
class Contribution:
    """A branch's L1 norm relative to the branches' mean (``value``), its
    standard error on that scale, and whether it stands out."""
    value: float
    se: float
    stands_out: bool


def relative_contributions(l1: Sequence[float], se: Sequence[float]
                           ) -> List[Contribution]:
    """Each branch's L1 (with its standard error) divided by the branches'
    mean; one stands out when it differs from 1 by more than
    :data:`STANDS_OUT` and by more than two standard errors."""
    mean = float(np.mean(l1))
    if mean <= 0:
        return [Contribution(0.0, 0.0, False) for _ in l1]
    return [Contribution(v / mean, e / mean,
                         abs(v / mean - 1) > max(STANDS_OUT, 2 * e / mean))
            for v, e in zip(l1, se)]


def plot_branch_contributions(rel: Sequence[Contribution],
                              labels: Sequence[str], path: str,
                              title: str = '') -> str:
    """Each branch relative to the mean (the dashed line at 1), two
    standard errors as error bars, the band where none stands out shaded,
    a branch that stands out darker."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.5, len(rel) * 1.4), 3.4))
    x = list(range(len(rel)))
    ax.axhspan(1 - STANDS_OUT, 1 + STANDS_OUT, color='#eeeeee', zorder=0,
               label=f'within {100 * STANDS_OUT:.0f}% of the mean')
    ax.bar(x, [c.value for c in rel], yerr=[2 * c.se for c in rel],
           capsize=3, color=['#08519c' if c.stands_out else '#9ecae1'
                             for c in rel], ecolor='#555555', zorder=2)
    ax.axhline(1, color='#333333', lw=0.8, ls='--', zorder=3,
               label='mean of the branches')
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylim(0, max(1.4, max(c.value + 2 * c.se for c in rel) * 1.2))
    ax.set_ylabel('L1 of projection weights\n/ mean over branches')
    note = ('no branch stands out' if not any(c.stands_out for c in rel)
            else 'dark: stands out')
    ax.set_title(f'{title or "Per-branch contribution"}\n({note}; '
                 'bars: 2 standard errors)', fontsize=9)
    ax.legend(fontsize=7, loc='upper right', ncol=2)
    return _save(fig, path)


def plot_search_progress(numbers: Sequence[int], values: Sequence[float],
                         path: str, metric: str = 'mIoU',
                         maximize: bool = True,
                         pruned: Sequence[tuple] = (),
                         failed: Sequence[int] = ()) -> str:
    """Each complete trial's score and the best so far, in trial order;
    ``pruned`` trials (``(number, value reached)``) and ``failed`` ones
    (numbers, on the x axis) marked, so no trial number goes missing."""
    plt = _plt()
    order = np.argsort(numbers)
    x = np.asarray(numbers)[order]
    y = np.asarray(values, dtype=float)[order]
    best = np.maximum.accumulate(y) if maximize else np.minimum.accumulate(y)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.scatter(x, y, s=14, color='#6baed6', label='complete trial')
    if pruned:
        px, py = zip(*pruned)
        ax.scatter(px, py, s=18, marker='x', color='#969696',
                   label='pruned (value reached)')
    if failed:
        ax.scatter(failed, [0.03] * len(failed), s=30, marker='v',
                   color='#de2d26', label='failed (no score)',
                   transform=ax.get_xaxis_transform())
    ax.step(x, best, where='post', color='#08519c', label='best so far')
    if len(set(y)) == 1:
        ax.set_title(f'every complete trial scored {y[0]:.2f}', fontsize=9)
    ax.set_xlabel('trial')
    ax.set_ylabel(f'proxy {metric}')
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_learning_curves(losses: Optional[Sequence[Sequence[tuple]]],
                         vals: Optional[Sequence[Sequence[tuple]]],
                         pruned: Sequence[bool], rungs: Sequence[int],
                         path: str, metric: str = 'mIoU') -> str:
    """Each trial's training loss and validation ``metric`` against
    training iterations (``(step, value)`` pairs per trial; ``None``: that
    panel left out), pruned trials in grey, the pruner's rungs as vertical
    lines; the legend names only what is drawn."""
    panels = [(c, label) for c, label in (
        (losses, 'training loss'), (vals, f'validation {metric}'))
        if c is not None]
    if not panels:
        raise ValueError('plot_learning_curves: neither losses nor vals')
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels),
                             figsize=(5.2 * len(panels), 3.4), squeeze=False)
    for ax, (curves, label) in zip(axes[0], panels):
        drawn = set()
        for curve, stopped in zip(curves, pruned):
            if not curve:
                continue
            x, y = zip(*curve)
            kind = 'pruned' if stopped else 'trained to the end'
            ax.plot(x, y, marker='o' if len(x) < 30 else None, lw=0.8,
                    ms=3, color='#969696' if stopped else '#08519c',
                    alpha=0.8, zorder=3,
                    label=None if kind in drawn else kind)
            drawn.add(kind)
        for i, r in enumerate(rungs):
            ax.axvline(r, color='#fdae6b', lw=0.8, ls='--', zorder=1,
                       label='rung' if i == 0 else None)
        ax.set_xlabel('proxy training iteration')
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_proxy_vs_full(proxy: Sequence[float], full: Sequence[float],
                       labels: Sequence[str], path: str,
                       spearman: Optional[float] = None,
                       kendall: Optional[float] = None,
                       proxy_err: Optional[Sequence[float]] = None,
                       full_err: Optional[Sequence[float]] = None) -> str:
    """Proxy against full-task mIoU per cell, with error bars (e.g. the
    standard deviation over training seeds) where given."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 4))
    if proxy_err is not None or full_err is not None:
        ax.errorbar(proxy, full, xerr=proxy_err, yerr=full_err, fmt='none',
                    ecolor='#fdae6b', elinewidth=1, capsize=2)
    ax.scatter(proxy, full, color='#e6550d')
    at: Dict[tuple, List[str]] = {}  # cells on one point share a label
    for x, y, t in zip(proxy, full, labels):
        at.setdefault((round(x, 2), round(y, 2)), []).append(t)
    for (x, y), names in at.items():
        ax.annotate('\n'.join(names), (x, y), fontsize=7, xytext=(4, 0),
                    textcoords='offset points', va='center')
    ax.set_xlabel('proxy mIoU')
    ax.set_ylabel('full-task mIoU')
    ax.set_title(textwrap.fill(rank_correlations(len(proxy), spearman,
                                                 kendall), 52), fontsize=9)
    return _save(fig, path)


def pareto_front(points: List[tuple]) -> List[int]:
    """Indices of ``(score up, cost down)`` points no other point beats."""
    front = []
    for i, (s, c) in enumerate(points):
        if not any((s2 >= s and c2 <= c) and (s2 > s or c2 < c)
                   for j, (s2, c2) in enumerate(points) if j != i):
            front.append(i)
    return front


def plot_pareto(miou: Sequence[float], flops: Sequence[float], path: str,
                selected: Optional[int] = None) -> str:
    """mIoU against FLOPs, the non-dominated cells joined, the
    ``selected`` one (an index) starred."""
    plt = _plt()
    pts = list(zip(miou, flops))
    front = sorted(pareto_front(pts), key=lambda i: flops[i])
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.scatter(np.asarray(flops) / 1e6, miou, s=14, color='#bdbdbd',
               label='trial')
    ax.plot([flops[i] / 1e6 for i in front], [miou[i] for i in front],
            'o-', color='#31a354', label='Pareto front')
    if selected is not None:
        ax.scatter([flops[selected] / 1e6], [miou[selected]], s=110,
                   marker='*', color='#e6550d', zorder=4,
                   label='selected cell')
    ax.set_xlabel('head MFLOPs (per sample, proxy features)')
    ax.set_ylabel('proxy mIoU')
    ax.legend(fontsize=8)
    return _save(fig, path)
