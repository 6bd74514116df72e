"""The search's results: leaderboard (CSV and JSON), Pareto front, summary."""
from __future__ import annotations

import csv
import json
import os
import os.path as osp
from typing import Any, Dict, List

from optuna.trial import TrialState

from ..utils.io import atomic_write_json

COLUMNS = ('rank', 'trial', 'arch_hash', 'status', 'mIoU', 'full_mIoU',
           'params', 'flops', 'wall_time', 'pareto', 'error', 'arch',
           'trial_dir')


def leaderboard_rows(driver) -> List[Dict[str, Any]]:
    """One row per trained trial: complete ones sorted by the first
    objective, then failed ones with their reason."""
    study = driver.study
    trials = [t for t in study.get_trials(deepcopy=False)
              if 'skipped' not in t.user_attrs
              and t.state in (TrialState.COMPLETE, TrialState.FAIL)]
    pareto = set()
    if len(driver.objectives) > 1:
        pareto = {t.number for t in study.best_trials}
    rerank = driver.reranker.results() if driver.reranker else {}
    obj = driver.objectives[0]
    sign = -1 if obj['direction'] == 'maximize' else 1
    done = sorted((t for t in trials if t.state == TrialState.COMPLETE),
                  key=lambda t: (t.number not in pareto if pareto else 0,
                                 sign * t.values[0], t.number))
    failed = sorted((t for t in trials if t.state == TrialState.FAIL),
                    key=lambda t: t.number)
    rows = []
    for rank, t in enumerate(done + failed, 1):
        ua = t.user_attrs
        rows.append(dict(
            rank=rank if t.state == TrialState.COMPLETE else None,
            trial=t.number, arch_hash=ua.get('arch_hash'),
            status='COMPLETE' if t.state == TrialState.COMPLETE else 'FAILED',
            mIoU=ua.get('mIoU'),
            full_mIoU=rerank.get(t.number, {}).get('full_mIoU'),
            params=ua.get('params'), flops=ua.get('flops'),
            wall_time=ua.get('wall_time'), pareto=t.number in pareto,
            error=ua.get('error'), arch=ua.get('arch'),
            trial_dir=ua.get('trial_dir')))
    return rows


def write_leaderboard(driver) -> Dict[str, Any]:
    """Write ``leaderboard.csv``/``.json`` (and ``pareto.json`` with several
    objectives) and ``summary.json`` to the work dir; return the summary."""
    rows = leaderboard_rows(driver)
    wd = driver.work_dir
    csv_path = osp.join(wd, 'leaderboard.csv')
    tmp = csv_path + '.tmp'
    with open(tmp, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: ('' if r[k] is None else r[k]) for k in COLUMNS})
    os.replace(tmp, csv_path)
    atomic_write_json(osp.join(wd, 'leaderboard.json'), rows)
    status = driver.status()
    summary = dict(study=driver.study_name, num_trials=driver.num_trials,
                   objectives=driver.objectives, **status,
                   best=rows[0] if rows and rows[0]['rank'] else None,
                   leaderboard_csv=csv_path,
                   leaderboard_json=osp.join(wd, 'leaderboard.json'))
    if len(driver.objectives) > 1:
        front = [r for r in rows if r['pareto']]
        atomic_write_json(osp.join(wd, 'pareto.json'), front)
        summary['pareto_json'] = osp.join(wd, 'pareto.json')
    if driver.reranker is not None and osp.exists(driver.reranker.path):
        with open(driver.reranker.path) as f:
            summary['rerank'] = json.load(f)
    atomic_write_json(osp.join(wd, 'summary.json'), summary)
    return summary
