"""Re-ranking: the top proxy architectures trained on the full task, and
how well the proxy ranks them (Spearman and Kendall, as the paper's
Sec. 4.1)."""
from __future__ import annotations

import itertools
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from scipy.stats import kendalltau, rankdata, spearmanr

from ..utils.io import atomic_write_json, read_json
from .cost import model_head_cost
from .full_task import crop_size, full_task_runner
from .progress import (Message, ProgressLog, RunTrained, TrainingPlanned,
                       rank_correlations)
from .record import TrialRecord
from .runner import TrialRun
from .settings import RerankSettings

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


@dataclass(frozen=True)
class RerankRow:
    """One re-ranked cell: its proxy rank and mIoU, and its full-task
    record's status, mIoU, head cost, error and time."""
    trial: int
    arch_hash: str
    proxy_rank: int
    proxy_mIoU: Optional[float]
    full_mIoU: Optional[float]
    status: str
    head_params: Optional[int]
    head_flops: Optional[int]
    error: Optional[str]
    wall_time: Optional[float]


@dataclass(frozen=True)
class RerankResult:
    """``rerank.json``: the re-ranked cells by proxy rank, the full config,
    and the rank correlation of the completed ones (``None`` where
    undefined)."""
    trials: List[RerankRow]
    full_config: str
    n: int
    spearman: Optional[float]
    spearman_p: Optional[float]
    kendall: Optional[float]
    kendall_p: Optional[float]

    @property
    def completed(self) -> List[RerankRow]:
        """The cells trained to the end on the full task."""
        return [r for r in self.trials if r.full_mIoU is not None]

    def full_mIoU(self, trial: int) -> Optional[float]:
        """The full-task mIoU of proxy trial ``trial`` (``None``: not
        re-ranked, or failed)."""
        return next((r.full_mIoU for r in self.trials if r.trial == trial),
                    None)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'RerankResult':
        return cls(**dict(data, trials=[RerankRow(**r)
                                        for r in data['trials']]))


def read_rerank(work_dir: str) -> Optional[RerankResult]:
    """A search's ``rerank.json`` (``None`` before re-ranking)."""
    data = read_json(osp.join(work_dir, RERANK_FILE))
    return None if data is None else RerankResult.from_dict(data)


class Reranker:
    """Trains the ``rerank.top_k`` best proxy trials on the full task
    (:mod:`.full_task`: the cell put into ``rerank.full_config``'s DPC
    head) through a :class:`~.runner.TrialRunner` of its own; re-ranked
    trials whose record is COMPLETE are kept on resume.

    Args:
        rerank: the checked ``rerank`` settings.
        launcher: where the models train.
        work_dir: the search's work dir.
        log: where progress goes.
        seed: the training seed.
        threads_per_trial: see :class:`~.runner.TrialRunner`.
    """

    def __init__(self, rerank: RerankSettings, launcher, work_dir: str,
                 log: ProgressLog, seed: int = 0,
                 threads_per_trial: Optional[int] = None) -> None:
        self.top_k = rerank.top_k
        self.full_config = rerank.full_config
        self.runner = full_task_runner(rerank, launcher, seed,
                                       threads_per_trial)
        self.dir = osp.join(work_dir, 'rerank')
        self.work_dir = work_dir
        self.log = log
        size = crop_size(self.runner.base)  # each re-ranked model's head
        self.cost = model_head_cost(self.runner.base, size) if size else None

    def run(self, ranked: List[TrialRecord],
            poll_interval: float = 0.5) -> RerankResult:
        """Re-rank the first ``top_k`` of ``ranked`` (complete proxy
        trials, best first); writes and returns ``rerank.json``."""
        candidates = ranked[:self.top_k]
        ranks = {r.trial: i for i, r in enumerate(candidates, 1)}
        proxy = {r.trial: r for r in candidates}
        runs = [TrialRun(r.trial, r.trial, r.arch,
                         osp.join(self.dir, osp.basename(r.run_dir)),
                         self.cost(r.arch.branches) if self.cost else {})
                for r in candidates]

        def before(kept: int, to_train: int) -> None:
            self.log.emit(TrainingPlanned('rerank', f'top {self.top_k}',
                                          kept, to_train))

        def after(run, record, done, total, eta) -> None:
            self.log.emit(RunTrained(
                'rerank', f'trial {run.number} ({run.arch.hash})',
                record.status, record.metrics.get('mIoU'), done, total, eta,
                proxy_mIoU=proxy[run.number].metrics.get('mIoU')))

        records = self.runner.train(runs, poll_interval, before, after)
        rows = sorted((_row(proxy[number], record, ranks[number])
                       for number, record in records.items()),
                      key=lambda r: r.proxy_rank)
        ok = [r for r in rows if r.full_mIoU is not None]
        result = RerankResult(
            rows, self.full_config,
            **rank_correlation([r.proxy_mIoU for r in ok],
                               [r.full_mIoU for r in ok]))
        atomic_write_json(osp.join(self.work_dir, RERANK_FILE),
                          result.to_dict())
        self.log.emit(Message('rerank', (
            f'proxy vs full, {result.n} architectures: ' + rank_correlations(
                result.n, result.spearman, result.kendall,
                result.spearman_p, result.kendall_p))))
        return result


def _row(proxy: TrialRecord, record: TrialRecord, rank: int) -> RerankRow:
    return RerankRow(trial=proxy.trial, arch_hash=proxy.arch_hash,
                     proxy_rank=rank, proxy_mIoU=proxy.metrics.get('mIoU'),
                     full_mIoU=record.metrics.get('mIoU'),
                     status=record.status, head_params=record.params,
                     head_flops=record.flops, error=record.error,
                     wall_time=record.wall_time)
