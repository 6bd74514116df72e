"""One trial record: what a trial (proxy, re-ranking, verdict, fidelity)
did, and the study's copy of it.

A runner builds the record as its trial's process ends
(:meth:`TrialRecord.build`); where the study had failed the trial
meanwhile (stale, by another driver), the scheduler turns it FAILED with
that reason (:meth:`TrialRecord.failed_elsewhere`) before writing it. It is
written as the trial folder's ``result.json`` and mirrored into the study's
user attributes. This module alone knows those attributes' names: the
ledger sets them through :func:`cell_attrs` & co. and hands out the
study's trials as records (:meth:`TrialRecord.from_trial`, the one place a
stored cell is decoded).
"""
from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Iterable, List, Optional

from optuna.trial import FrozenTrial, TrialState

from ..utils.io import atomic_write_json, read_json
from .architecture import Architecture
from .optuna_adapter import describe_cell

# a record's status; the leaderboard's and the report's too
COMPLETE, FAILED, PRUNED, RUNNING = 'COMPLETE', 'FAILED', 'PRUNED', 'RUNNING'
# a run stopped by Ctrl-C or SIGTERM (see :mod:`.interrupt`): neither a
# failure nor an outcome; the study's trial waits to be run again
INTERRUPTED = 'INTERRUPTED'
STATUS = {TrialState.COMPLETE: COMPLETE, TrialState.FAIL: FAILED,
          TrialState.PRUNED: PRUNED}
RESULT_FILE = 'result.json'

# the study's user attributes of a trial: set at admission ...
_ARCH_HASH, _ARCH, _CELL, _TRIAL_DIR = 'arch_hash', 'arch', 'cell', 'trial_dir'
_COSTS = ('params', 'flops')
# ... why it was skipped (not trained; no slot of num_trials) ...
_SKIPPED = 'skipped'
# ... whose failure a FAIL was (see :mod:`.ledger`), and why
_FAILURE, _ERROR = 'failure', 'error'
# copied from a record (its metrics too)
_MIRRORED = ('params', 'flops', 'wall_time', 'error', 'stopped_at')
_NOT_METRICS = {_ARCH_HASH, _ARCH, _CELL, _TRIAL_DIR, _SKIPPED, _FAILURE,
                *_MIRRORED}
# Optuna's system attribute of an enqueued trial (a retry: its own cell)
_FIXED_PARAMS = 'fixed_params'


@dataclass
class TrialRecord:
    """A finished trial: its cell, status, metrics, cost and time.

    ``arch`` ``None``: a baseline's own (non-DPC) head. ``metrics`` are the
    last validation's (``mIoU``, ``aAcc``, ``mAcc``, ``step``); ``error``
    says why a FAILED trial failed; ``stopped_at`` the iteration at which
    the pruner stopped a PRUNED one; ``initialised`` what the model started
    from (the full task). ``config`` is the trial's ``config.py``, in its
    folder (``None``: a study's trial that never got one)."""
    trial: int
    arch_hash: Optional[str]
    arch: Optional[Architecture]
    status: str
    config: Optional[str]
    metrics: Dict[str, Any] = field(default_factory=dict)
    params: Optional[int] = None
    flops: Optional[int] = None
    wall_time: Optional[float] = 0.0
    startup_s: Optional[float] = None
    train_s: Optional[float] = None
    error: Optional[str] = None
    initialised: Optional[str] = None
    stopped_at: Optional[int] = None

    @classmethod
    def build(cls, trial: int, arch: Optional[Architecture], run_dir: str,
              cost: Dict[str, int], wall_time: float,
              metrics: Optional[Dict[str, Any]] = None,
              error: Optional[str] = None,
              initialised: Optional[str] = None,
              stopped_at: Optional[int] = None) -> 'TrialRecord':
        """The record of trial ``trial`` (cell ``arch``, or ``None`` for a
        baseline's own head) run in ``run_dir``: COMPLETE with ``metrics``,
        FAILED with ``error``, or PRUNED at iteration ``stopped_at``; the
        run's start-up and training time come from its ``timing.json``."""
        timing = read_json(osp.join(run_dir, 'timing.json')) or {}
        return cls(
            trial=trial, arch_hash=arch.hash if arch else None, arch=arch,
            status=(FAILED if error is not None else
                    PRUNED if stopped_at is not None else COMPLETE),
            config=osp.join(run_dir, 'config.py'),
            metrics=dict(metrics or {}), params=cost.get('params'),
            flops=cost.get('flops'), wall_time=wall_time,
            startup_s=timing.get('startup_s'), train_s=timing.get('train_s'),
            error=error, initialised=initialised, stopped_at=stopped_at)

    @classmethod
    def from_trial(cls, t: FrozenTrial) -> 'TrialRecord':
        """The study's copy of trial ``t`` (its own cost, time, metrics,
        cell and folder; ``RUNNING`` while unfinished)."""
        ua = t.user_attrs
        run_dir = ua.get(_TRIAL_DIR)
        return cls(
            trial=t.number, arch_hash=ua.get(_ARCH_HASH),
            arch=Architecture.from_json(ua[_ARCH]) if _ARCH in ua else None,
            status=STATUS.get(t.state, RUNNING),
            config=osp.join(run_dir, 'config.py') if run_dir else None,
            metrics={k: v for k, v in ua.items() if k not in _NOT_METRICS},
            params=ua.get('params'), flops=ua.get('flops'),
            wall_time=ua.get('wall_time'), error=ua.get(_ERROR),
            stopped_at=ua.get('stopped_at'))

    @property
    def complete(self) -> bool:
        return self.status == COMPLETE

    @property
    def run_dir(self) -> Optional[str]:
        return osp.dirname(self.config) if self.config else None

    def interrupted(self, why: str) -> None:
        """The run was stopped by ``why`` (a signal) before it ended: it is
        INTERRUPTED, to be run again."""
        self.status, self.error, self.metrics = INTERRUPTED, why, {}

    def failed_elsewhere(self, error: str) -> None:
        """The study failed this trial while it ran here (stale, or by
        another driver): it is FAILED, with ``error`` saying so."""
        self.status, self.error = FAILED, error

    def user_attrs(self) -> Dict[str, Any]:
        """The study's copy: metrics and the mirrored fields."""
        attrs = {k: getattr(self, k) for k in _MIRRORED}
        attrs.update(self.metrics)
        return attrs

    def to_dict(self) -> Dict[str, Any]:
        """``result.json``'s content (the cell as reference branch dicts,
        ``[]`` for a baseline's own head)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out['arch'] = self.arch.to_list() if self.arch else []
        out['metrics'] = dict(self.metrics)
        return out

    def write(self) -> None:
        """``result.json`` in the trial's folder."""
        os.makedirs(self.run_dir, exist_ok=True)
        atomic_write_json(osp.join(self.run_dir, RESULT_FILE),
                          self.to_dict())

    @classmethod
    def read(cls, run_dir: str) -> Optional['TrialRecord']:
        """The record in ``run_dir``, or ``None`` where there is none."""
        data = read_json(osp.join(run_dir, RESULT_FILE))
        if data is None:
            return None
        data['arch'] = Architecture(data['arch']) if data['arch'] else None
        return cls(**data)


# --- the study's attributes, set by the ledger ---------------------------
def cell_attrs(arch: Architecture) -> Dict[str, Any]:
    """A trial's cell, set as it is admitted (other drivers compare the
    hash)."""
    return {_ARCH_HASH: arch.hash, _ARCH: arch.to_json(),
            _CELL: describe_cell(arch)}


def cost_attrs(cost: Dict[str, int]) -> Dict[str, Any]:
    """An admitted trial's cost (``params``, ``flops``)."""
    return {k: cost[k] for k in _COSTS}


def trial_dir_attrs(run_dir: str) -> Dict[str, Any]:
    """Where an admitted trial runs."""
    return {_TRIAL_DIR: run_dir}


def skip_attrs(reason: str) -> Dict[str, Any]:
    """A trial skipped (not trained), and why."""
    return {_SKIPPED: reason}


def outcome_attrs(record: TrialRecord,
                  failure: Optional[str] = None) -> Dict[str, Any]:
    """A trial's outcome: its record's copy and whose failure it was
    (``None`` unless FAILED: a retry inherits the failed trial's
    attributes)."""
    return dict(record.user_attrs(), **{_FAILURE: failure})


def stale_attrs(error: str, failure: str) -> Dict[str, Any]:
    """A trial the study fails without its record (its driver died)."""
    return {_ERROR: error, _FAILURE: failure}


# --- ... and read back -----------------------------------------------------
def arch_hash_of(t: FrozenTrial) -> Optional[str]:
    """The trial's cell hash (``None`` until admitted)."""
    return t.user_attrs.get(_ARCH_HASH)


def skip_reason(t: FrozenTrial) -> Optional[str]:
    """Why the trial was skipped (``None``: it was not)."""
    return t.user_attrs.get(_SKIPPED)


def failure_of(t: FrozenTrial) -> Optional[str]:
    """Whose failure a FAIL was (see :mod:`.ledger`)."""
    return t.user_attrs.get(_FAILURE)


def error_of(t: FrozenTrial) -> Optional[str]:
    """Why the trial failed."""
    return t.user_attrs.get(_ERROR)


def stopped_at_of(t: FrozenTrial) -> Optional[int]:
    """The iteration at which the pruner stopped the trial."""
    return t.user_attrs.get('stopped_at')


def is_retry(t: FrozenTrial) -> bool:
    """An enqueued trial (a retry) that keeps its cell."""
    return _FIXED_PARAMS in t.system_attrs


def evaluated_records(trials: Iterable[FrozenTrial]) -> List[TrialRecord]:
    """The records of the evaluated trials (complete or pruned, skipped
    ones left out), in the order they finished."""
    done = [t for t in trials if skip_reason(t) is None and t.state in (
        TrialState.COMPLETE, TrialState.PRUNED)]
    done.sort(key=lambda t: (t.datetime_complete or t.datetime_start,
                             t.number))
    return [TrialRecord.from_trial(t) for t in done]
