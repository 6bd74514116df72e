"""The ledger's mirror of the study: what admission, counts and the best
trial need of each trial, in memory.

The ledger reads only the trials that are new or were unfinished (as
Optuna's own trial cache does) and hands each to :meth:`StudyView.update`,
so admission costs O(1) in the size of the study. The view keeps the start
order, the hashes of the trials that hold a slot, the counts, the best
complete trial and this driver's tally for the failure budget.
"""
from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from optuna.trial import FrozenTrial, TrialState

from .record import (arch_hash_of, error_of, failure_of, skip_reason,
                     stopped_at_of)

# why a trial failed (its ``failure``): its own error, its driver's
# silence, or its search stopping; only the first counts against the budget
TRIAL_ERROR, STALE, STOPPED = 'trial', 'stale', 'stopped'

Order = Tuple[float, int]  # (start time, number): who came first


@dataclass
class Entry:
    """What admission and counts need of one trial."""
    number: int
    order: Order
    state: TrialState
    arch_hash: Optional[str]
    skipped: bool

    @property
    def counted(self) -> bool:
        """Holds a slot of ``num_trials``: running, complete or pruned."""
        return not self.skipped and self.state in (
            TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)

    @property
    def kind(self) -> Optional[str]:
        """Which count the trial is in (``None``: waiting)."""
        if self.skipped:
            return 'skipped'
        return {TrialState.COMPLETE: 'complete', TrialState.RUNNING:
                'running', TrialState.FAIL: 'failed',
                TrialState.PRUNED: 'pruned'}.get(self.state)


@dataclass(frozen=True)
class Counts:
    """Trials of the study by state (skipped ones apart)."""
    complete: int = 0
    running: int = 0
    failed: int = 0
    pruned: int = 0
    skipped: int = 0

    @property
    def evaluated(self) -> int:
        """Complete or stopped by the pruner: what ``num_trials`` counts."""
        return self.complete + self.pruned

    def to_dict(self) -> Dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Outcomes:
    """This driver's tally for the failure budget: trials ``finished``
    since it started (complete, pruned, or failed by their own error), of
    which ``failed`` failed, the last ``consecutive`` in a row, and the
    last failure ``(number, error)``."""
    finished: int = 0
    failed: int = 0
    consecutive: int = 0
    last_failure: Optional[Tuple[int, str]] = None


@dataclass(frozen=True)
class Member:
    """A complete trial as a population member: its number, cell
    parameters and objective values."""
    number: int
    params: Dict[str, Any]
    values: Tuple[float, ...]


@dataclass(frozen=True)
class Best:
    """The best complete trial: its number, first objective and cell."""
    number: int
    value: float
    arch_hash: Optional[str]


class StudyView:
    """The mirror, brought up to date trial by trial (:meth:`update`).

    Args:
        sign: +1 where a larger first objective is better, else -1.
        started_at: when this driver started (its tally counts trials that
            finished after).
    """

    def __init__(self, sign: int, started_at: float) -> None:
        self.sign = sign
        self.started_at = started_at
        self.entries: Dict[int, Entry] = {}  # by storage id
        self.unfinished: Set[int] = set()
        self.last_finished = -1  # the highest storage id finished
        self.by_hash: Dict[str, Set[int]] = {}  # of counted trials
        self.finished_orders: List[Order] = []  # evaluated, sorted
        # complete trials by start order, and each one's cell and values:
        # the youngest are a sampler's population (regularized evolution)
        self.complete_orders: List[Order] = []
        self._members: Dict[Order, Member] = {}
        self._counts = dict(Counts().to_dict())
        self.stops: Dict[int, Optional[int]] = {}  # pruned: stopped_at
        # (signed value, -number, value, number, arch hash) of the best
        self._best: Optional[Tuple[float, int, float, int, str]] = None
        self._outcomes = dict(finished=0, failed=0, consecutive=0)
        self._last_failure: Optional[Tuple[int, str]] = None

    # --- bringing it up to date -------------------------------------------
    def update(self, trials: Iterable[Tuple[int, FrozenTrial]]) -> None:
        """Take the trials read (``(storage id, trial)``: the new and the
        unfinished ones)."""
        trials = list(trials)
        newly_finished = []
        for trial_id, t in trials:
            old = self.entries.get(trial_id)
            self._update(trial_id, old, t)
            if t.state.is_finished():
                self.unfinished.discard(trial_id)
                if old is None or not old.state.is_finished():
                    newly_finished.append(t)
            else:
                self.unfinished.add(trial_id)
        for trial_id, t in trials:  # after all: trials are read in one pass
            if t.state.is_finished():
                self.last_finished = max(self.last_finished, trial_id)
        for t in sorted(newly_finished, key=lambda t: (
                t.datetime_complete or t.datetime_start, t.number)):
            self._count_outcome(t)

    def _update(self, trial_id: int, old: Optional[Entry],
                t: FrozenTrial) -> None:
        start = t.datetime_start.timestamp() if t.datetime_start else 0.0
        new = Entry(t.number, (start, t.number), t.state, arch_hash_of(t),
                    skip_reason(t) is not None)
        if old is not None:
            if old.kind:
                self._counts[old.kind] -= 1
            if old.counted and old.arch_hash:
                self.by_hash[old.arch_hash].discard(trial_id)
        if new.kind:
            self._counts[new.kind] += 1
        if new.counted and new.arch_hash:
            self.by_hash.setdefault(new.arch_hash, set()).add(trial_id)
        if new.kind in ('complete', 'pruned') and (
                old is None or old.kind != new.kind):
            bisect.insort(self.finished_orders, new.order)
        if new.kind == 'pruned':
            self.stops[t.number] = stopped_at_of(t)
        if new.kind == 'complete' and (old is None or old.kind != 'complete'):
            bisect.insort(self.complete_orders, new.order)
            self._members[new.order] = Member(t.number, dict(t.params),
                                              tuple(t.values))
            best = (self.sign * t.values[0], -t.number, t.values[0],
                    t.number, new.arch_hash)
            if self._best is None or best[:2] > self._best[:2]:
                self._best = best
        self.entries[trial_id] = new

    def _count_outcome(self, t: FrozenTrial) -> None:
        """The failure budget's tally: trials that finished since this
        driver started, completed or failed by their own error."""
        if (skip_reason(t) is not None or not t.datetime_complete
                or t.datetime_complete.timestamp() < self.started_at):
            return
        o = self._outcomes
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            o['finished'] += 1
            o['consecutive'] = 0
        elif t.state == TrialState.FAIL and failure_of(t) == TRIAL_ERROR:
            o['finished'] += 1
            o['failed'] += 1
            o['consecutive'] += 1
            self._last_failure = (t.number, error_of(t) or '')

    # --- what it tells -----------------------------------------------------
    def counts(self) -> Counts:
        return Counts(**self._counts)

    def outcomes(self) -> Outcomes:
        return Outcomes(last_failure=self._last_failure, **self._outcomes)

    def youngest_complete(self, n: int) -> List[Member]:
        """The ``n`` complete trials that started last (fewer while the
        study has fewer), oldest first: O(n), whatever the study's size."""
        return [self._members[o] for o in self.complete_orders[-n:]]

    def best(self) -> Optional[Best]:
        if self._best is None:
            return None
        _, _, value, number, arch_hash = self._best
        return Best(number, value, arch_hash)

    def waiting(self) -> List[int]:
        """Storage ids of the waiting trials (retries, enqueued cells), by
        number."""
        return sorted((i for i in self.unfinished
                       if self.entries[i].state == TrialState.WAITING),
                      key=lambda i: self.entries[i].number)

    def earlier_unfinished(self, trial_id: int) -> List[Entry]:
        """The unfinished trials holding a slot that started before
        ``trial_id``."""
        me = self.entries[trial_id]
        return [e for i in self.unfinished if i != trial_id
                for e in (self.entries[i], )
                if e.counted and e.order < me.order]

    def orphans(self, now: float, grace: float) -> List[int]:
        """RUNNING trials never admitted (no cell) that started over
        ``2 * grace`` seconds before ``now``."""
        return [i for i in self.unfinished
                for e in (self.entries[i], )
                if e.state == TrialState.RUNNING and e.arch_hash is None
                and e.order[0] and now - e.order[0] > 2 * grace]
