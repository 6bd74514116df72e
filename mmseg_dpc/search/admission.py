"""Admission: may a trial run, given the study's mirror?

Trials are admitted in the order they started: a trial runs only if fewer
than ``num_trials`` trials that started before it are running or evaluated
(complete, or stopped by the pruner), no trial that started before it
holds the same architecture (by its canonical hash), and its cost is
within the constraints. So several drivers, restarts and retries end with
exactly ``num_trials`` evaluated trials and no architecture trained twice.
A pure function of the mirror: the ledger brings the mirror up to date
first (and waits until every earlier trial has its cell).
"""
from __future__ import annotations

import bisect
from typing import Dict, Mapping, Optional

from .settings import COST_OBJECTIVES
from .study_view import StudyView


def admission(view: StudyView, trial_id: int, arch_hash: str,
              cost: Dict[str, int], num_trials: int,
              constraints: Mapping[str, Optional[int]]) -> Optional[str]:
    """``None`` where trial ``trial_id`` (its cell's hash ``arch_hash``,
    its ``cost``) may run, else why it is skipped: a duplicate, the quota
    full, or infeasible."""
    me = view.entries[trial_id]
    twins = [view.entries[i].number for i in view.by_hash.get(arch_hash, ())
             if i != trial_id and view.entries[i].order < me.order]
    if twins:
        return f'duplicate of trial {min(twins)}'
    earlier = len(view.earlier_unfinished(trial_id))
    if (bisect.bisect_left(view.finished_orders, me.order) + earlier
            >= num_trials):
        return 'quota full'
    for key in COST_OBJECTIVES:
        limit = constraints.get(f'max_{key}')
        if limit is not None and cost[key] > limit:
            return (f'infeasible: {key} {cost[key]:,} > max_{key} '
                    f'{limit:,}')
    return None
