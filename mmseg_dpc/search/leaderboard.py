"""The search's results: leaderboard (CSV and JSON), Pareto front, summary;
and their readers (the report reads them here)."""
from __future__ import annotations

import csv
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

from ..utils.io import atomic_write_json, read_json
from .architecture import Architecture
from .ledger import StudyLedger
from .rerank import RerankResult, read_rerank

LEADERBOARD_JSON, LEADERBOARD_CSV = 'leaderboard.json', 'leaderboard.csv'
SUMMARY_FILE, PARETO_FILE = 'summary.json', 'pareto.json'
COLUMNS = ('rank', 'trial', 'arch_hash', 'status', 'mIoU', 'full_mIoU',
           'params', 'flops', 'wall_time', 'pareto', 'stopped_at', 'error',
           'arch', 'trial_dir')


def leaderboard_rows(ledger: StudyLedger,
                     rerank: Optional[RerankResult] = None
                     ) -> List[Dict[str, Any]]:
    """One row per trained trial (the study's record of each):
    complete ones best first (Pareto-optimal ones first with several
    objectives), then pruned ones with the iteration they stopped at and
    the mIoU they had reached, then failed ones with their reason."""
    pareto = ledger.pareto_front()
    records = ledger.trained_trials()
    done = [r for r in records if r.complete]
    done.sort(key=lambda r: r.trial not in pareto)  # stable: best first
    rest = [r for r in records if not r.complete]
    return [dict(
        rank=rank if r.complete else None, trial=r.trial,
        arch_hash=r.arch_hash, status=r.status, mIoU=r.metrics.get('mIoU'),
        full_mIoU=rerank.full_mIoU(r.trial) if rerank else None,
        params=r.params, flops=r.flops, wall_time=r.wall_time,
        pareto=r.trial in pareto, stopped_at=r.stopped_at, error=r.error,
        arch=r.arch.to_json() if r.arch else None, trial_dir=r.run_dir)
        for rank, r in enumerate(done + rest, 1)]


def row_cell(row: Dict[str, Any]) -> Architecture:
    """The cell of a leaderboard row."""
    return Architecture.from_json(row['arch'])


def read_leaderboard(work_dir: str) -> List[Dict[str, Any]]:
    """A search's ``leaderboard.json`` rows (``[]`` before any)."""
    return read_json(osp.join(work_dir, LEADERBOARD_JSON)) or []


def read_summary(work_dir: str) -> Dict[str, Any]:
    """A search's ``summary.json`` (``{}`` before any)."""
    return read_json(osp.join(work_dir, SUMMARY_FILE)) or {}


def write_leaderboard(work_dir: str, ledger: StudyLedger,
                      rungs: Sequence[int] = ()) -> Dict[str, Any]:
    """Write ``leaderboard.csv``/``.json`` (and ``pareto.json`` with several
    objectives) and ``summary.json`` (with the pruner's ``rungs``) to
    ``work_dir``; return the summary."""
    rerank = read_rerank(work_dir)
    rows = leaderboard_rows(ledger, rerank)
    csv_path = osp.join(work_dir, LEADERBOARD_CSV)
    tmp = f'{csv_path}.{os.getpid()}.tmp'
    with open(tmp, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: ('' if r[k] is None else r[k]) for k in COLUMNS})
    os.replace(tmp, csv_path)
    json_path = osp.join(work_dir, LEADERBOARD_JSON)
    atomic_write_json(json_path, rows)
    st = ledger.settings
    summary = dict(study=st.study_name, num_trials=st.num_trials,
                   objectives=st.objectives,
                   pruner=st.pruner.to_dict() if st.pruner else None,
                   rungs=list(rungs),
                   **ledger.counts().to_dict(),
                   best=rows[0] if rows and rows[0]['rank'] else None,
                   leaderboard_csv=csv_path,
                   leaderboard_json=json_path)
    if len(st.objectives) > 1:
        summary['pareto_json'] = osp.join(work_dir, PARETO_FILE)
        atomic_write_json(summary['pareto_json'],
                          [r for r in rows if r['pareto']])
    if rerank is not None:
        summary['rerank'] = rerank.to_dict()
    atomic_write_json(osp.join(work_dir, SUMMARY_FILE), summary)
    return summary
