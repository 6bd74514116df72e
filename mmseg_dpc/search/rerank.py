"""Re-ranking: the top proxy architectures trained on the full task, and
how well the proxy ranks them (Spearman and Kendall, as the paper's
Sec. 4.1)."""
from __future__ import annotations

import itertools
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple

from optuna.trial import FrozenTrial
import numpy as np
from scipy.stats import kendalltau, rankdata, spearmanr

from ..utils.io import atomic_write_json, read_json
from .architecture import Architecture
from .cost import model_head_cost
from .record import TrialRecord
from .runner import TrialRun, TrialRunner, load_base_config

RERANK_FILE = 'rerank.json'


EXACT_UP_TO = 8  # points: p-values by enumerating every ordering


def _exact_p(proxy: List[float], full: List[float]) -> Tuple[float, float]:
    """Two-sided p-values of Spearman's rho and Kendall's tau-b under
    independence, over every ordering of ``full`` (scipy's asymptotic ones
    are wrong for a few points: p = 0 for n = 3 and rho = 1, where the truth
    is 1/3)."""
    rx, ry = rankdata(proxy), rankdata(full)
    perms = np.array(list(itertools.permutations(ry)))  # the first: ry
    a = rx - rx.mean()
    b = perms - perms.mean(axis=1, keepdims=True)
    rho = b @ a / np.sqrt((a * a).sum() * (b * b).sum(axis=1))
    i, j = np.triu_indices(len(rx), 1)
    sx = np.sign(rx[j] - rx[i])
    sy = np.sign(perms[:, j] - perms[:, i])
    tau = sy @ sx / np.sqrt((sx != 0).sum() * (sy != 0).sum(axis=1))
    return tuple(float(np.mean(np.abs(v) >= abs(v[0]) - 1e-9))
                 for v in (rho, tau))


def rank_correlation(proxy: List[float], full: List[float]) -> Dict:
    """Spearman's rho and Kendall's tau with two-sided p-values (exact up
    to :data:`EXACT_UP_TO` points); ``None`` where undefined (fewer than 2
    points, or a constant side)."""
    out: Dict[str, Any] = dict(n=len(proxy))
    if len(proxy) < 2 or len(set(proxy)) < 2 or len(set(full)) < 2:
        out.update(spearman=None, spearman_p=None, kendall=None,
                   kendall_p=None)
        return out
    rho, rho_p = spearmanr(proxy, full)
    tau, tau_p = kendalltau(proxy, full)
    if len(proxy) <= EXACT_UP_TO:
        rho_p, tau_p = _exact_p(proxy, full)
    out.update(spearman=float(rho), spearman_p=float(rho_p),
               kendall=float(tau), kendall_p=float(tau_p))
    return out


def read_rerank(work_dir: str) -> Optional[Dict[str, Any]]:
    """A search's ``rerank.json`` (``None`` before re-ranking)."""
    return read_json(osp.join(work_dir, RERANK_FILE))


class Reranker:
    """Trains the ``rerank.top_k`` best proxy trials with
    ``rerank.full_config`` (the cell put into its DPC head) through a
    :class:`~.runner.TrialRunner` of its own; re-ranked trials whose record
    is COMPLETE are kept on resume.

    Args:
        rerank: the checked ``rerank`` settings.
        launcher: where the models train.
        work_dir: the search's work dir.
        seed: the training seed.
        timeout: a model's time limit unless ``rerank.timeout`` sets one.
        threads_per_trial: see :class:`~.runner.TrialRunner`.
    """

    def __init__(self, rerank: Dict[str, Any], launcher, work_dir: str,
                 seed: int = 0, timeout: Optional[float] = None,
                 threads_per_trial: Optional[int] = None) -> None:
        self.top_k = rerank['top_k']
        self.full_config = rerank['full_config']
        init_from = rerank.get('init_from')  # the same backbone for all
        self.runner = TrialRunner(
            launcher, load_base_config(self.full_config,
                                       rerank['cfg_options'], init_from),
            seed=seed, timeout=rerank.get('timeout', timeout),
            threads_per_trial=threads_per_trial,
            initialised=(f'backbone from {init_from}' if init_from else
                         'from scratch'))
        self.dir = osp.join(work_dir, 'rerank')
        self.work_dir = work_dir
        base = self.runner.base  # the head cost of each re-ranked model
        size = base.get('crop_size') or base.model.get(
            'data_preprocessor', {}).get('size')
        self.cost = model_head_cost(base, size) if size else None

    def run(self, ranked: List[FrozenTrial],
            poll_interval: float = 0.5) -> Dict[str, Any]:
        """Re-rank the first ``top_k`` of ``ranked`` (complete proxy
        trials, best first); writes and returns ``rerank.json``."""
        candidates = ranked[:self.top_k]
        ranks = {t.number: i for i, t in enumerate(candidates, 1)}
        proxy = {t.number: t for t in candidates}
        runs = []
        for t in candidates:
            run = TrialRun(t.number, t.number,
                           Architecture.from_json(t.user_attrs['arch']),
                           osp.join(self.dir, osp.basename(
                               t.user_attrs['trial_dir'])), {})
            if self.cost is not None:
                run.cost = self.cost(run.arch.branches)
            runs.append(run)

        def before(kept: int, to_train: int) -> None:
            print(f'[rerank] top {self.top_k}: {kept} done before, '
                  f'{to_train} to train on the full task')

        def after(run, record, *_) -> None:
            print(f'[rerank] trial {run.number} ({run.arch.hash}): proxy '
                  f'mIoU {_fmt(proxy[run.number].user_attrs.get("mIoU"))}, '
                  f'full {_fmt(record.metrics.get("mIoU"))} {record.status}')

        records = self.runner.train(runs, poll_interval, before, after)
        rows = [_row(proxy[number], record, ranks)
                for number, record in records.items()]
        ok = [r for r in rows if r['full_mIoU'] is not None]
        report = dict(trials=sorted(rows, key=lambda r: r['proxy_rank']),
                      full_config=self.full_config,
                      **rank_correlation([r['proxy_mIoU'] for r in ok],
                                         [r['full_mIoU'] for r in ok]))
        atomic_write_json(osp.join(self.work_dir, RERANK_FILE), report)
        print(f'[rerank] proxy vs full, {report["n"]} architectures: '
              f'Spearman {_fmt(report["spearman"])} (p '
              f'{_fmt(report["spearman_p"])}), Kendall '
              f'{_fmt(report["kendall"])} (p {_fmt(report["kendall_p"])})')
        return report


def _fmt(v: Optional[float]) -> str:
    return 'n/a' if v is None else f'{v:.2f}'


def _row(t: FrozenTrial, record: TrialRecord,
         ranks: Dict[int, int]) -> Dict[str, Any]:
    return dict(trial=t.number, arch_hash=t.user_attrs['arch_hash'],
                proxy_rank=ranks.get(t.number),
                proxy_mIoU=t.user_attrs.get('mIoU'),
                full_mIoU=record.metrics.get('mIoU'), status=record.status,
                head_params=record.params, head_flops=record.flops,
                error=record.error, wall_time=record.wall_time)
