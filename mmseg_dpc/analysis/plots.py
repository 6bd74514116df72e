"""Plots of a search: branch contributions, progress, proxy vs full,
Pareto front. Each takes plain data and writes one PNG."""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..search.progress import num


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
    """L1 norm of each branch's slice of the concat projection's weights,
    read from a trained checkpoint of a model with a DPC head (the paper's
    analysis of which branches matter)."""
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
    per = w.view(w.shape[0], n, -1).sum(dim=(0, 2))
    return dict(l1=per.tolist(), num_branches=n)


def plot_branch_contributions(l1: Sequence[float], labels: Sequence[str],
                              path: str, title: str = '') -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4, len(l1) * 1.3), 3.2))
    ax.bar(range(len(l1)), l1, color='#3182bd')
    ax.set_xticks(range(len(l1)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel('L1 norm of projection weights')
    ax.set_title(title or 'Per-branch contribution', fontsize=10)
    return _save(fig, path)


def plot_search_progress(numbers: Sequence[int], values: Sequence[float],
                         path: str, metric: str = 'mIoU',
                         maximize: bool = True) -> str:
    """Each trial's score and the best so far, in trial order."""
    plt = _plt()
    order = np.argsort(numbers)
    x = np.asarray(numbers)[order]
    y = np.asarray(values, dtype=float)[order]
    best = np.maximum.accumulate(y) if maximize else np.minimum.accumulate(y)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.scatter(x, y, s=14, color='#9ecae1', label='trial')
    ax.step(x, best, where='post', color='#08519c', label='best so far')
    ax.set_xlabel('trial')
    ax.set_ylabel(f'proxy {metric}')
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_learning_curves(curves: Sequence[Sequence[tuple]],
                         pruned: Sequence[bool], rungs: Sequence[int],
                         path: str, metric: str = 'mIoU') -> str:
    """Each trial's validation ``metric`` against training iterations
    (``curves``: ``(step, value)`` pairs per trial), pruned trials in
    grey, the pruner's rungs as vertical lines."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for curve, stopped in zip(curves, pruned):
        if not curve:
            continue
        x, y = zip(*curve)
        ax.plot(x, y, marker='.', lw=0.8, ms=3,
                color='#bdbdbd' if stopped else '#08519c', alpha=0.8)
    for r in rungs:
        ax.axvline(r, color='#e6550d', lw=0.8, ls='--')
    ax.plot([], [], color='#08519c', label='trained to the end')
    ax.plot([], [], color='#bdbdbd', label='pruned')
    if rungs:
        ax.plot([], [], color='#e6550d', ls='--', label='rung')
    ax.set_xlabel('proxy training iteration')
    ax.set_ylabel(f'validation {metric}')
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
    for x, y, t in zip(proxy, full, labels):
        ax.annotate(t, (x, y), fontsize=7, xytext=(3, 3),
                    textcoords='offset points')
    ax.set_xlabel('proxy mIoU')
    ax.set_ylabel('full-task mIoU')
    ax.set_title(f'Spearman {num(spearman)}, Kendall {num(kendall)}',
                 fontsize=10)
    return _save(fig, path)


def pareto_front(points: List[tuple]) -> List[int]:
    """Indices of ``(score up, cost down)`` points no other point beats."""
    front = []
    for i, (s, c) in enumerate(points):
        if not any((s2 >= s and c2 <= c) and (s2 > s or c2 < c)
                   for j, (s2, c2) in enumerate(points) if j != i):
            front.append(i)
    return front


def plot_pareto(miou: Sequence[float], flops: Sequence[float], path: str
                ) -> str:
    """mIoU against FLOPs, the non-dominated cells joined."""
    plt = _plt()
    pts = list(zip(miou, flops))
    front = sorted(pareto_front(pts), key=lambda i: flops[i])
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.scatter(np.asarray(flops) / 1e6, miou, s=14, color='#bdbdbd',
               label='trial')
    ax.plot([flops[i] / 1e6 for i in front], [miou[i] for i in front],
            'o-', color='#31a354', label='Pareto front')
    ax.set_xlabel('head MFLOPs (per sample, proxy features)')
    ax.set_ylabel('proxy mIoU')
    ax.legend(fontsize=8)
    return _save(fig, path)

