"""Proxy fidelity: how well the proxy task ranks cells as the full task
does (the paper's Sec. 4.1 measure, Spearman 0.47 for its cached-feature
proxy), with the uncertainty a user needs to trust it.

N cells are sampled uniformly (seeded); each is trained S times (training
seeds 0 .. S-1) on the proxy and on the full task, the full task set up as
the search's re-ranking (``rerank.full_config``, ``cfg_options``,
``init_from``), through the search's trial runner and launcher (local or
Ray). Finished runs are kept: running the same command again trains only
what is missing.
"""
from __future__ import annotations

import os
import os.path as osp
import warnings
from typing import Any, Dict, List

import numpy as np
from scipy.stats import (ConstantInputWarning, DegenerateDataWarning,
                         bootstrap, kendalltau, spearmanr)

from ..utils.io import atomic_write_json
from .plots import plot_proxy_vs_full

FIDELITY_FILE = 'fidelity.json'


def _corr(stat):
    def f(x, y, axis=-1):
        return np.apply_along_axis(
            lambda xy: stat(xy[:len(xy) // 2], xy[len(xy) // 2:])[0], axis,
            np.concatenate([x, y], axis=axis))
    return f


def summarize(proxy: np.ndarray, full: np.ndarray, seed: int = 0,
              resamples: int = 2000) -> Dict[str, Any]:
    """Rank agreement of ``proxy`` and ``full`` mIoU arrays ``[cells,
    seeds]``: Spearman and Kendall of the per-cell means with bootstrap 95%
    intervals (cells resampled), the seed-to-seed standard deviation of
    each side, and each side's own seed-to-seed Spearman (how well a
    second run of the same task ranks the cells: the ceiling the proxy can
    reach)."""
    p, f = proxy.mean(axis=1), full.mean(axis=1)
    out: Dict[str, Any] = dict(cells=int(proxy.shape[0]),
                               seeds=int(proxy.shape[1]))
    for name, stat in (('spearman', spearmanr), ('kendall', kendalltau)):
        if len(set(p)) < 2 or len(set(f)) < 2:  # a constant side: undefined
            out[name], out[f'{name}_ci95'] = None, None
            continue
        # resamples of a few cells repeat one cell: their correlation is
        # undefined (scipy warns of a constant input and a degenerate
        # distribution); the interval is then None, which the tools word
        with np.errstate(invalid='ignore'), warnings.catch_warnings():
            warnings.simplefilter('ignore', ConstantInputWarning)
            warnings.simplefilter('ignore', DegenerateDataWarning)
            ci = bootstrap((p, f), _corr(stat), paired=True,
                           vectorized=True, n_resamples=resamples,
                           method='percentile',
                           random_state=seed).confidence_interval
        out[name] = float(stat(p, f)[0])
        out[f'{name}_ci95'] = [_num(ci.low), _num(ci.high)]
    for side, x in (('proxy', proxy), ('full', full)):
        out[f'{side}_seed_std'] = float(x.std(axis=1, ddof=1).mean()) \
            if x.shape[1] > 1 else None
        with warnings.catch_warnings():  # a constant seed: None
            warnings.simplefilter('ignore', ConstantInputWarning)
            out[f'{side}_seed_spearman'] = _num(
                spearmanr(x[:, 0], x[:, 1])[0]) if x.shape[1] > 1 else None
    return out


def _num(v) -> Any:
    """A float, or ``None`` for NaN (undefined: constant resamples)."""
    return None if v is None or not np.isfinite(v) else float(v)


def write_fidelity(work_dir: str, cells: List[Dict[str, Any]]
                   ) -> Dict[str, Any]:
    """``fidelity.json`` and ``fidelity.png`` in ``work_dir`` from
    ``cells`` (each ``arch_hash``, ``arch``, ``proxy`` and ``full`` mIoU
    per seed); returns the summary."""
    proxy = np.array([c['proxy'] for c in cells], dtype=float)
    full = np.array([c['full'] for c in cells], dtype=float)
    summary = summarize(proxy, full)
    summary['per_cell'] = cells
    atomic_write_json(osp.join(work_dir, FIDELITY_FILE), summary)
    seeds = proxy.shape[1]
    plot_proxy_vs_full(
        proxy.mean(axis=1).tolist(), full.mean(axis=1).tolist(),
        [c['arch_hash'][:6] for c in cells],
        osp.join(work_dir, 'fidelity.png'), summary['spearman'],
        summary['kendall'],
        proxy.std(axis=1, ddof=1).tolist() if seeds > 1 else None,
        full.std(axis=1, ddof=1).tolist() if seeds > 1 else None)
    os.makedirs(work_dir, exist_ok=True)
    return summary
