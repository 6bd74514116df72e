"""The search's results: leaderboard (CSV and JSON), Pareto front, summary."""
from __future__ import annotations

import csv
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

from optuna.trial import TrialState

from ..utils.io import atomic_write_json
from .ledger import StudyLedger
from .rerank import read_rerank

COLUMNS = ('rank', 'trial', 'arch_hash', 'status', 'mIoU', 'full_mIoU',
           'params', 'flops', 'wall_time', 'pareto', 'stopped_at', 'error',
           'arch', 'trial_dir')
STATUS = {TrialState.COMPLETE: 'COMPLETE', TrialState.FAIL: 'FAILED',
          TrialState.PRUNED: 'PRUNED'}


def leaderboard_rows(ledger: StudyLedger,
                     rerank: Optional[Dict[str, Any]] = None
                     ) -> List[Dict[str, Any]]:
    """One row per trained trial (the study's mirror of each trial
    record): complete ones best first (Pareto-optimal ones first with
    several objectives), then pruned ones with the iteration they stopped
    at and the mIoU they had reached, then failed ones with their
    reason."""
    pareto = ledger.pareto_front()
    full = {r['trial']: r for r in (rerank or {}).get('trials', [])}
    trials = ledger.trained_trials()
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    done.sort(key=lambda t: t.number not in pareto)  # stable: best first
    rest = [t for t in trials if t.state != TrialState.COMPLETE]
    rows = []
    for rank, t in enumerate(done + rest, 1):
        ua = t.user_attrs
        ok = t.state == TrialState.COMPLETE
        rows.append(dict(
            rank=rank if ok else None, trial=t.number,
            arch_hash=ua.get('arch_hash'),
            status=STATUS[t.state], mIoU=ua.get('mIoU'),
            full_mIoU=full.get(t.number, {}).get('full_mIoU'),
            params=ua.get('params'), flops=ua.get('flops'),
            wall_time=ua.get('wall_time'), pareto=t.number in pareto,
            stopped_at=ua.get('stopped_at'),
            error=ua.get('error'), arch=ua.get('arch'),
            trial_dir=ua.get('trial_dir')))
    return rows


def write_leaderboard(work_dir: str, ledger: StudyLedger,
                      rungs: Sequence[int] = ()) -> Dict[str, Any]:
    """Write ``leaderboard.csv``/``.json`` (and ``pareto.json`` with several
    objectives) and ``summary.json`` (with the pruner's ``rungs``) to
    ``work_dir``; return the summary."""
    rerank = read_rerank(work_dir)
    rows = leaderboard_rows(ledger, rerank)
    csv_path = osp.join(work_dir, 'leaderboard.csv')
    tmp = f'{csv_path}.{os.getpid()}.tmp'
    with open(tmp, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: ('' if r[k] is None else r[k]) for k in COLUMNS})
    os.replace(tmp, csv_path)
    atomic_write_json(osp.join(work_dir, 'leaderboard.json'), rows)
    st = ledger.settings
    summary = dict(study=st.study_name, num_trials=st.num_trials,
                   objectives=st.objectives, pruner=st.pruner,
                   rungs=list(rungs),
                   **ledger.counts(),
                   best=rows[0] if rows and rows[0]['rank'] else None,
                   leaderboard_csv=csv_path,
                   leaderboard_json=osp.join(work_dir, 'leaderboard.json'))
    if len(st.objectives) > 1:
        atomic_write_json(osp.join(work_dir, 'pareto.json'),
                          [r for r in rows if r['pareto']])
        summary['pareto_json'] = osp.join(work_dir, 'pareto.json')
    if rerank is not None:
        summary['rerank'] = rerank
    atomic_write_json(osp.join(work_dir, 'summary.json'), summary)
    return summary
