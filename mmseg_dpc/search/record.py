"""One trial record: what a trial (proxy or re-ranking) did.

Built in one place (:meth:`TrialRecord.build`), written as the trial
folder's ``result.json``, mirrored into the study's user attributes, and
read back from there by the leaderboard, re-ranking, the report and the
demo.
"""
from __future__ import annotations

import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

from ..utils.io import atomic_write_json, read_json

COMPLETE, FAILED, PRUNED = 'COMPLETE', 'FAILED', 'PRUNED'
RESULT_FILE = 'result.json'
# copied from a record into the study's user attributes (metrics too)
MIRRORED = ('params', 'flops', 'wall_time', 'error', 'stopped_at')


@dataclass
class TrialRecord:
    """A finished trial: its cell, status, metrics, cost and time.

    ``metrics`` are the last validation's (``mIoU``, ``aAcc``, ``mAcc``,
    ``step``); ``error`` says why a FAILED trial failed; ``stopped_at`` the
    iteration at which the pruner stopped a PRUNED one; ``initialised``
    what the model started from (re-ranking)."""
    trial: int
    arch_hash: Optional[str]  # None: a baseline's own (non-DPC) head
    arch: List[dict]
    status: str
    config: str
    metrics: Dict[str, Any] = field(default_factory=dict)
    params: Optional[int] = None
    flops: Optional[int] = None
    wall_time: float = 0.0
    startup_s: Optional[float] = None
    train_s: Optional[float] = None
    error: Optional[str] = None
    initialised: Optional[str] = None
    stopped_at: Optional[int] = None

    @classmethod
    def build(cls, trial: int, arch, run_dir: str, cost: Dict[str, int],
              wall_time: float, metrics: Optional[Dict[str, Any]] = None,
              error: Optional[str] = None,
              initialised: Optional[str] = None,
              stopped_at: Optional[int] = None) -> 'TrialRecord':
        """The record of trial ``trial`` (cell ``arch``, or ``None`` for a
        baseline's own head) run in
        ``run_dir``: COMPLETE with ``metrics``, FAILED with ``error``, or
        PRUNED at iteration ``stopped_at``; the run's start-up and training
        time come from its ``timing.json``."""
        timing = read_json(osp.join(run_dir, 'timing.json')) or {}
        return cls(
            trial=trial, arch_hash=arch.hash if arch else None,
            arch=arch.to_list() if arch else [],
            status=(FAILED if error is not None else
                    PRUNED if stopped_at is not None else COMPLETE),
            config=osp.join(run_dir, 'config.py'),
            metrics=dict(metrics or {}), params=cost.get('params'),
            flops=cost.get('flops'), wall_time=wall_time,
            startup_s=timing.get('startup_s'), train_s=timing.get('train_s'),
            error=error, initialised=initialised, stopped_at=stopped_at)

    @property
    def complete(self) -> bool:
        return self.status == COMPLETE

    @property
    def run_dir(self) -> str:
        return osp.dirname(self.config)

    def user_attrs(self) -> Dict[str, Any]:
        """The study's copy: metrics and :data:`MIRRORED` fields."""
        attrs = {k: getattr(self, k) for k in MIRRORED}
        attrs.update(self.metrics)
        return attrs

    def write(self) -> None:
        """``result.json`` in the trial's folder."""
        os.makedirs(self.run_dir, exist_ok=True)
        atomic_write_json(osp.join(self.run_dir, RESULT_FILE), asdict(self))

    @classmethod
    def read(cls, run_dir: str) -> Optional['TrialRecord']:
        """The record in ``run_dir``, or ``None`` where there is none."""
        data = read_json(osp.join(run_dir, RESULT_FILE))
        return None if data is None else cls(**data)
