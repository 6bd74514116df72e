"""The study ledger: the one place that talks to Optuna's storage.

The study lives in an Optuna RDB storage (SQLite in the work dir by
default, or a URL such as PostgreSQL shared by drivers on many machines).
Trials are admitted in the order they started: a trial runs only if fewer
than ``num_trials`` trials that started before it are running or evaluated
(complete, or stopped by the pruner), and no trial that started before it
holds the same architecture (by its stored canonical hash). So several
drivers, restarts and retries end with exactly ``num_trials`` evaluated
trials and no architecture trained twice; a pruned trial is never retried.

Admission costs O(1) in the size of the study: the ledger keeps a view of
the study in memory (hashes, start order, counts) and brings it up to date
by reading only the trials that are new or were unfinished, as Optuna's own
trial cache does.

Heartbeats of this driver's trials come from a thread of its own; a trial
whose driver died is failed (with that reason) once its heartbeat is older
than the grace period, and retried (Optuna's retry callback) up to
``max_retries`` times. Every use of Optuna's private API is in this module.
"""
from __future__ import annotations

import bisect
import inspect
import time
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set, Tuple

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from .architecture import Architecture
from .heartbeat import HeartbeatThread
from .optuna_adapter import describe_cell
from .record import TrialRecord
from .settings import COST_OBJECTIVES, SearchSettings

# heartbeats and stale-trial failing are used with ask/tell on purpose
warnings.filterwarnings('ignore', message='Heartbeat of storage')
warnings.filterwarnings('ignore', category=optuna.exceptions.ExperimentalWarning)
# why a trial failed (user attr ``failure``): its own error, its driver's
# silence, or its search stopping; only the first counts against the budget
TRIAL_ERROR, STALE, STOPPED = 'trial', 'stale', 'stopped'


def retry_callback(max_retry: int) -> Tuple[Any, str]:
    """Optuna's retry-on-stale callback and the RDBStorage argument that
    takes it (renamed in Optuna 4.9)."""
    if 'heartbeat_stale_trial_callback' in inspect.signature(
            RDBStorage.__init__).parameters:
        from optuna.storages import RetryHeartbeatStaleTrialCallback
        return (RetryHeartbeatStaleTrialCallback(max_retry=max_retry),
                'heartbeat_stale_trial_callback')
    from optuna.storages import RetryFailedTrialCallback
    return RetryFailedTrialCallback(max_retry=max_retry), \
        'failed_trial_callback'


def open_storage(url: str, attempts: int = 6, **kwargs) -> RDBStorage:
    """``RDBStorage(url)``, retried while another driver that started at
    the same time creates the tables of a fresh database (PostgreSQL then
    fails one of them with a duplicate type or table)."""
    from sqlalchemy.exc import SQLAlchemyError
    for attempt in range(attempts):
        try:
            return RDBStorage(url, **kwargs)
        except SQLAlchemyError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError('unreachable')


@dataclass
class _Entry:
    """What admission and counts need of one trial."""
    number: int
    order: Tuple[float, int]  # (start time, number)
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
        if self.skipped:
            return 'skipped'
        return {TrialState.COMPLETE: 'complete', TrialState.RUNNING:
                'running', TrialState.FAIL: 'failed',
                TrialState.PRUNED: 'pruned'}.get(self.state)


class StudyLedger:
    """The search's study: asking, admission, outcomes, heartbeats, stale
    and orphaned trials, counts and the best trial.

    Args:
        settings: the search settings.
        url: the Optuna storage URL.
        sampler: the strategy's sampler (see :mod:`.strategies`).
        resume: require the study to exist.
        pruner: the study's pruner (see :mod:`.pruning`).
    """

    def __init__(self, settings: SearchSettings, url: str,
                 sampler: optuna.samplers.BaseSampler,
                 resume: bool = False,
                 pruner: Optional[optuna.pruners.BasePruner] = None) -> None:
        self.settings = settings
        self.retry, callback_arg = retry_callback(settings.max_retries)
        self.storage = open_storage(
            url, heartbeat_interval=settings.heartbeat_interval,
            grace_period=settings.grace_period,
            engine_kwargs=dict(pool_pre_ping=True),
            **{callback_arg: self.retry})
        name = settings.study_name
        if resume and name not in optuna.study.get_all_study_names(
                self.storage):
            raise ValueError(f'--resume: no study {name!r} in {url}')
        self.study = optuna.create_study(
            study_name=name, storage=self.storage, load_if_exists=True,
            sampler=sampler, pruner=pruner,
            directions=[o['direction'] for o in settings.objectives])
        self._study_id = self.study._study_id
        names = [o['name'] for o in settings.objectives]
        if self.study.metric_names != names:  # named in the dashboard
            self.study.set_metric_names(names)
        self.heartbeat: Optional[HeartbeatThread] = None
        self.started_at = time.time()
        # the in-memory view, brought up to date by _sync()
        self._view: Dict[int, _Entry] = {}
        self._unfinished: Set[int] = set()
        self._last_finished = -1
        self._by_hash: Dict[str, Set[int]] = {}
        self._finished_orders: List[Tuple[float, int]] = []  # evaluated
        self._counts = dict(complete=0, running=0, failed=0, pruned=0,
                            skipped=0)
        self.pruned_at: Dict[int, int] = {}  # number -> stopped_at
        # (signed value, -number, value, number, arch hash) of the best
        self._best: Optional[Tuple[float, int, float, int, str]] = None
        # this driver's session: trials' own outcomes, in finishing order
        self._outcomes = dict(finished=0, failed=0, consecutive=0)
        self._last_failure: Optional[Tuple[int, str]] = None

    # --- heartbeats -------------------------------------------------------
    def start(self) -> None:
        self.heartbeat = HeartbeatThread(self.storage,
                                         self.settings.heartbeat_interval)

    def stop(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()

    # --- the in-memory view -----------------------------------------------
    def _sync(self) -> None:
        """Read the trials that are new or were unfinished, and update the
        view (O(new + unfinished), as Optuna's ``_CachedStorage``)."""
        trials = self.storage._get_trials(
            self._study_id, states=None,
            included_trial_ids=self._unfinished,
            trial_id_greater_than=self._last_finished)
        newly_finished = []
        for t in trials:
            old = self._view.get(t._trial_id)
            self._update(t._trial_id, old, t)
            if t.state.is_finished():
                self._unfinished.discard(t._trial_id)
                if old is None or not old.state.is_finished():
                    newly_finished.append(t)
            else:
                self._unfinished.add(t._trial_id)
        for t in trials:  # after all: trials are read in one pass
            if t.state.is_finished():
                self._last_finished = max(self._last_finished, t._trial_id)
        for t in sorted(newly_finished, key=lambda t: (
                t.datetime_complete or t.datetime_start, t.number)):
            self._count_outcome(t)

    def _update(self, trial_id: int, old: Optional[_Entry],
                t: FrozenTrial) -> None:
        start = t.datetime_start.timestamp() if t.datetime_start else 0.0
        new = _Entry(t.number, (start, t.number), t.state,
                     t.user_attrs.get('arch_hash'),
                     'skipped' in t.user_attrs)
        if old is not None:
            if old.kind:
                self._counts[old.kind] -= 1
            if old.counted and old.arch_hash:
                self._by_hash[old.arch_hash].discard(trial_id)
        if new.kind:
            self._counts[new.kind] += 1
        if new.counted and new.arch_hash:
            self._by_hash.setdefault(new.arch_hash, set()).add(trial_id)
        if new.kind in ('complete', 'pruned') and (
                old is None or old.kind != new.kind):
            bisect.insort(self._finished_orders, new.order)
        if new.kind == 'pruned':
            self.pruned_at[t.number] = t.user_attrs.get('stopped_at')
        if new.kind == 'complete' and (old is None or old.kind != 'complete'):
            best = (self.settings.sign * t.values[0], -t.number,
                    t.values[0], t.number, new.arch_hash)
            if self._best is None or best[:2] > self._best[:2]:
                self._best = best
        self._view[trial_id] = new

    def _count_outcome(self, t: FrozenTrial) -> None:
        """The failure budget's tally: trials that finished since this
        driver started, completed or failed by their own error."""
        if ('skipped' in t.user_attrs or not t.datetime_complete
                or t.datetime_complete.timestamp() < self.started_at):
            return
        o = self._outcomes
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            o['finished'] += 1
            o['consecutive'] = 0
        elif (t.state == TrialState.FAIL
              and t.user_attrs.get('failure') == TRIAL_ERROR):
            o['finished'] += 1
            o['failed'] += 1
            o['consecutive'] += 1
            self._last_failure = (t.number, t.user_attrs.get('error') or '')

    def counts(self) -> Dict[str, int]:
        """Trials complete, running, failed, pruned (skipped ones apart)."""
        self._sync()
        return dict(self._counts)

    def outcomes(self) -> Dict[str, Any]:
        """This session's tally for the failure budget: ``finished``,
        ``failed``, ``consecutive`` failures and ``last_failure``
        ``(number, error)``."""
        self._sync()
        return dict(self._outcomes, last_failure=self._last_failure)

    def best(self) -> Optional[Tuple[int, float, str]]:
        """``(number, first objective, arch hash)`` of the best complete
        trial (ties: the lowest number)."""
        self._sync()
        if self._best is None:
            return None
        _, _, value, number, arch_hash = self._best
        return number, value, arch_hash

    # --- a trial's life ---------------------------------------------------
    def ask(self, distributions: Dict[str, Any]) -> optuna.Trial:
        """``study.ask(distributions)``, taking a waiting trial (a retry, an
        enqueued cell) from the ledger's view where ``study.ask`` scans
        every trial of the study (O(N) per trial)."""
        self._sync()
        storage = self.study._storage
        trial_id = None
        for tid in sorted((i for i in self._unfinished
                           if self._view[i].state == TrialState.WAITING),
                          key=lambda i: self._view[i].number):
            try:  # another driver may take it first
                if storage.set_trial_state_values(tid, TrialState.RUNNING):
                    trial_id = tid
                    break
            except UpdateFinishedTrialError:
                continue
        if trial_id is not None:  # the study's trial cache must know it
            # (as study.ask's scan would have made it): new and unfinished
            # trials only, O(running)
            storage._read_trials_from_remote_storage(self._study_id)
        else:
            trial_id = storage.create_new_trial(self._study_id)
        # At once: a trial without any heartbeat is never failed as stale,
        # so one asked by a driver that dies before its first heartbeat
        # would hold its slot forever.
        self.heartbeat.hold(trial_id)
        trial = optuna.Trial(self.study, trial_id)
        for name, distribution in distributions.items():
            trial._suggest(name, distribution)
        return trial

    def admit(self, trial: optuna.Trial, arch: Architecture,
              cost: Dict[str, int]) -> Optional[str]:
        """Record ``trial``'s cell; ``None`` to run it, else why it is
        skipped (a duplicate, the quota full, infeasible): it is then
        finished as PRUNED with that reason."""
        tid = trial._trial_id
        trial.set_user_attr('arch_hash', arch.hash)
        trial.set_user_attr('arch', arch.to_json())
        trial.set_user_attr('cell', describe_cell(arch))
        for _ in range(100):  # wait out earlier trials still being asked
            self._sync()
            me = self._view[tid]
            earlier = [e for i in self._unfinished if i != tid
                       for e in (self._view[i], )
                       if e.counted and e.order < me.order]
            if all(e.arch_hash for e in earlier):
                break
            time.sleep(0.05)
        reason = None
        twins = [self._view[i].number for i in self._by_hash.get(
            arch.hash, ()) if i != tid and self._view[i].order < me.order]
        limits = self.settings.constraints
        if twins:
            reason = f'duplicate of trial {min(twins)}'
        elif (bisect.bisect_left(self._finished_orders, me.order)
              + len(earlier) >= self.settings.num_trials):
            reason = 'quota full'
        else:
            for key in COST_OBJECTIVES:
                limit = limits.get(f'max_{key}')
                if limit is not None and cost[key] > limit:
                    reason = (f'infeasible: {key} {cost[key]:,} > max_{key} '
                              f'{limit:,}')
                    break
        if reason is not None:
            self.finish(trial, TrialState.PRUNED, attrs=dict(skipped=reason))
            return reason
        for k in COST_OBJECTIVES:
            trial.set_user_attr(k, cost[k])
        return None

    def finish(self, trial: optuna.Trial, state: TrialState,
               values: Optional[List[float]] = None,
               attrs: Optional[Dict[str, Any]] = None) -> bool:
        """Set ``attrs`` and tell the trial's outcome; ``False`` where the
        study had failed it already (stale, by another driver: its outcome
        is the study's, and this driver goes on)."""
        try:
            for k, v in (attrs or {}).items():
                trial.set_user_attr(k, v)
            self.study.tell(trial, values, state=state)
            return True
        except (UpdateFinishedTrialError, ValueError) as e:
            if self.storage.get_trial(trial._trial_id).state.is_finished():
                return False
            raise e
        finally:
            self.heartbeat.release(trial._trial_id)

    def complete(self, trial: optuna.Trial, record: TrialRecord) -> bool:
        """Tell a COMPLETE record (its objectives: metrics, else cost);
        ``False`` where the study had failed the trial already."""
        values = [record.metrics[o['name']] if o['name'] in record.metrics
                  else getattr(record, o['name'])
                  for o in self.settings.objectives]
        # error/failure None: a retry inherits the failed trial's attrs
        return self.finish(trial, TrialState.COMPLETE, values,
                           dict(record.user_attrs(), failure=None))

    def prune(self, trial: optuna.Trial, record: TrialRecord) -> bool:
        """Tell a PRUNED record (its value: the last one reported);
        ``False`` where the study had failed the trial already."""
        return self.finish(trial, TrialState.PRUNED,
                           attrs=dict(record.user_attrs(), failure=None))

    def trial_id(self, trial: optuna.Trial) -> int:
        """The trial's storage id (what a trial process reports to)."""
        return trial._trial_id

    def fail(self, trial: optuna.Trial, record: TrialRecord,
             failure: str) -> bool:
        """Tell a FAILED record, ``failure`` saying whose failure it was,
        and retry the trial (``max_retries``); ``False`` where the study
        had failed it already."""
        told = self.finish(trial, TrialState.FAIL,
                           attrs=dict(record.user_attrs(), failure=failure))
        if told:
            self.retry(self.study, self.storage.get_trial(trial._trial_id))
        return told

    def error_of(self, trial: optuna.Trial) -> str:
        """Why the study failed ``trial`` (another driver, or stale)."""
        frozen = self.storage.get_trial(trial._trial_id)
        return frozen.user_attrs.get('error') or 'failed by another driver'

    def fail_stale(self) -> List[FrozenTrial]:
        """Fail trials whose driver stopped heartbeating (Optuna's
        ``fail_stale_trials``, plus the reason), retry them, and return
        them. Trials this driver holds are alive by definition."""
        grace = self.storage.grace_period
        failed = []
        for trial_id in self.storage._get_stale_trial_ids(self._study_id):
            if self.heartbeat.holds(trial_id):
                continue
            error = (f'stale: no heartbeat for over {grace}s, its driver '
                     'was killed or hung')
            try:
                self.storage.set_trial_user_attr(trial_id, 'error', error)
                self.storage.set_trial_user_attr(trial_id, 'failure', STALE)
                if not self.storage.set_trial_state_values(trial_id,
                                                           TrialState.FAIL):
                    continue
            except UpdateFinishedTrialError:
                continue  # another driver failed it first
            t = self.storage.get_trial(trial_id)
            self.retry(self.study, t)
            failed.append(t)
        return failed

    def fail_orphans(self) -> None:
        """Fail RUNNING trials whose driver died inside ``ask()``: they have
        no heartbeat (so stale failing skips them) and never got their
        ``arch_hash``, which a live driver sets milliseconds after
        asking."""
        grace = self.storage.grace_period or 0
        now = time.time()
        self._sync()
        for tid in list(self._unfinished):
            e = self._view[tid]
            if (e.state == TrialState.RUNNING and e.arch_hash is None
                    and e.order[0] and now - e.order[0] > 2 * grace
                    and not self.heartbeat.holds(tid)):
                try:
                    self.storage.set_trial_user_attr(
                        tid, 'skipped', 'orphaned: its driver died while '
                        'asking for it')
                    self.storage.set_trial_state_values(tid, TrialState.FAIL)
                except UpdateFinishedTrialError:
                    pass  # another driver failed it first

    # --- reading the results ----------------------------------------------
    def trained_trials(self) -> List[FrozenTrial]:
        """Complete trials, best first (by the first objective, ties by
        number), then pruned ones (latest rung first, then by value), then
        failed ones by number; skipped ones left out."""
        trials = [t for t in self.study.get_trials(deepcopy=False)
                  if 'skipped' not in t.user_attrs]
        sign = self.settings.sign
        done = sorted((t for t in trials if t.state == TrialState.COMPLETE),
                      key=lambda t: (-sign * t.values[0], t.number))
        pruned = sorted(
            (t for t in trials if t.state == TrialState.PRUNED),
            key=lambda t: (-(t.user_attrs.get('stopped_at') or 0),
                           -sign * (t.values or [0.0])[0], t.number))
        return done + pruned + [t for t in trials
                                if t.state == TrialState.FAIL]

    def complete_trials(self) -> List[FrozenTrial]:
        """Complete trials, best first."""
        return [t for t in self.trained_trials()
                if t.state == TrialState.COMPLETE]

    def pareto_front(self) -> Set[int]:
        """Numbers of the Pareto-optimal trials (several objectives)."""
        if len(self.settings.objectives) < 2:
            return set()
        return {t.number for t in self.study.best_trials}
