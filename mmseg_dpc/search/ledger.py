"""The study ledger: the thin facade over Optuna that the search talks to.

The study lives in an Optuna RDB storage (SQLite in the work dir by
default, or a URL such as PostgreSQL shared by drivers on many machines).
The ledger asks for trials, admits them (:mod:`.admission`, over its
mirror of the study, :mod:`.study_view`), tells their outcomes, fails
stale and orphaned trials, and hands the study's trials out as
records (:class:`~.record.TrialRecord`). A pruned trial is never
retried.

Heartbeats of this driver's trials come from a thread of its own; a trial
whose driver died is failed (with that reason) once its heartbeat is older
than the grace period, and retried (Optuna's retry callback) up to
``max_retries`` times. Every use of Optuna's private API is in this module.
"""
from __future__ import annotations

import inspect
import json
import os.path as osp
import time
import warnings
from typing import Any, Dict, List, Optional, Set, Tuple

import optuna
from mmengine.config import Config
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from .admission import admission
from .architecture import Architecture
from .fingerprint import flat_config
from .heartbeat import HeartbeatThread
from .record import (TrialRecord, cell_attrs, cost_attrs, error_of,
                     outcome_attrs, skip_attrs, skip_reason, stale_attrs,
                     stopped_at_of, trial_dir_attrs)
from .settings import SearchSettings
from .study_view import STALE, Best, Counts, Member, Outcomes, StudyView

# the study's user attribute holding its proxy settings (flat config)
PROXY_SETTINGS = 'proxy_settings'
# heartbeats and stale-trial failing are used with ask/tell on purpose
warnings.filterwarnings('ignore', message='Heartbeat of storage')
warnings.filterwarnings('ignore',
                        category=optuna.exceptions.ExperimentalWarning)


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


class StudyLedger:
    """The search's study: asking, admission, outcomes, heartbeats, stale
    and orphaned trials, and its trials as records.

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
                 pruner: Optional[optuna.pruners.BasePruner] = None,
                 proxy: Optional[Config] = None) -> None:
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
        if proxy is not None:
            self._check_proxy(proxy, url)
        self.heartbeat: Optional[HeartbeatThread] = None
        self.view = StudyView(settings.sign, time.time())
        if hasattr(sampler, 'population_from'):  # regularized evolution
            sampler.population_from(self.youngest_complete)

    def _check_proxy(self, proxy: Config, url: str) -> None:
        """A study is one experiment: the proxy settings its trials were
        trained with are stored with it, and a run under other ones is
        refused, naming the keys that differ (absolute paths aside: where
        the cache, configs and checkpoints lie, whose content the cache's
        manifest hashes guard)."""
        settings = {k: v for k, v in flat_config(proxy).items()
                    if not (isinstance(v, str) and osp.isabs(v))}
        stored = self.study.user_attrs.get(PROXY_SETTINGS)
        if stored is None:
            self.study.set_user_attr(PROXY_SETTINGS, settings)
            return
        settings = json.loads(json.dumps(settings))  # as stored
        keys = sorted(k for k in set(stored) | set(settings)
                      if stored.get(k, KeyError) != settings.get(k, KeyError))
        if keys:
            shown = ', '.join(keys[:8]) + (f' (and {len(keys) - 8} more)'
                                           if len(keys) > 8 else '')
            raise ValueError(
                f'study {self.settings.study_name!r} in {url} was run with '
                f'other proxy settings ({shown}): a study is one '
                'experiment. Continue it with the settings it was run '
                'with, or start a new study (another --work-dir, or '
                'another study_name with --storage)')

    # --- heartbeats -------------------------------------------------------
    def start(self) -> None:
        self.heartbeat = HeartbeatThread(self.storage,
                                         self.settings.heartbeat_interval)

    def stop(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()

    # --- the mirror -------------------------------------------------------
    def _sync(self) -> StudyView:
        """Read the trials that are new or were unfinished into the mirror
        (O(new + unfinished), as Optuna's ``_CachedStorage``)."""
        v = self.view
        trials = self.storage._get_trials(
            self._study_id, states=None, included_trial_ids=v.unfinished,
            trial_id_greater_than=v.last_finished)
        v.update((t._trial_id, t) for t in trials)
        return v

    def counts(self) -> Counts:
        """Trials complete, running, failed, pruned (skipped ones apart)."""
        return self._sync().counts()

    def outcomes(self) -> Outcomes:
        """This session's tally for the failure budget."""
        return self._sync().outcomes()

    def best(self) -> Optional[Best]:
        """The best complete trial (ties: the lowest number)."""
        return self._sync().best()

    def stops(self) -> List[int]:
        """The iterations at which the pruner stopped trials."""
        return [s for s in self._sync().stops.values() if s]

    # --- a trial's life ---------------------------------------------------
    def youngest_complete(self, n: int) -> List[Member]:
        """The ``n`` youngest complete trials (by start), from the mirror:
        a sampler's population without reading the whole study."""
        return self._sync().youngest_complete(n)

    def ask(self, distributions: Dict[str, Any]) -> optuna.Trial:
        """``study.ask(distributions)``, taking a waiting trial (a retry, an
        enqueued cell) from the mirror where ``study.ask`` scans every
        trial of the study (O(N) per trial)."""
        view = self._sync()
        storage = self.study._storage
        trial_id = None
        for tid in view.waiting():
            try:  # another driver may take it first; a trial put back
                # after an interrupt keeps its old heartbeat: beat first,
                # or another driver could take it for stale at once
                self.storage.record_heartbeat(tid)
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
        skipped (see :mod:`.admission`): it is then finished as PRUNED
        with that reason."""
        tid = trial._trial_id
        self._set(trial, cell_attrs(arch))
        for _ in range(100):  # wait out earlier trials still being asked
            view = self._sync()
            if all(e.arch_hash for e in view.earlier_unfinished(tid)):
                break
            time.sleep(0.05)
        st = self.settings
        reason = admission(view, tid, arch.hash, cost, st.num_trials,
                           st.constraints)
        if reason is not None:
            self.finish(trial, TrialState.PRUNED, attrs=skip_attrs(reason))
            return reason
        self._set(trial, cost_attrs(cost))
        return None

    def set_trial_dir(self, trial: optuna.Trial, run_dir: str) -> None:
        """Where the admitted ``trial`` runs."""
        self._set(trial, trial_dir_attrs(run_dir))

    @staticmethod
    def _set(trial: optuna.Trial, attrs: Dict[str, Any]) -> None:
        for k, v in attrs.items():
            trial.set_user_attr(k, v)

    def finish(self, trial: optuna.Trial, state: TrialState,
               values: Optional[List[float]] = None,
               attrs: Optional[Dict[str, Any]] = None) -> bool:
        """Set ``attrs`` and tell the trial's outcome; ``False`` where the
        study had failed it already (stale, by another driver: its outcome
        is the study's, and this driver goes on)."""
        try:
            self._set(trial, attrs or {})
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
        return self.finish(trial, TrialState.COMPLETE, values,
                           outcome_attrs(record))

    def prune(self, trial: optuna.Trial, record: TrialRecord) -> bool:
        """Tell a PRUNED record (its value: the last one reported);
        ``False`` where the study had failed the trial already."""
        return self.finish(trial, TrialState.PRUNED,
                           attrs=outcome_attrs(record))

    def trial_id(self, trial: optuna.Trial) -> int:
        """The trial's storage id (what a trial process reports to)."""
        return trial._trial_id

    def fail(self, trial: optuna.Trial, record: TrialRecord,
             failure: str) -> bool:
        """Tell a FAILED record, ``failure`` saying whose failure it was,
        and retry the trial (``max_retries``); ``False`` where the study
        had failed it already."""
        told = self.finish(trial, TrialState.FAIL,
                           attrs=outcome_attrs(record, failure))
        if told:
            self.retry(self.study, self.storage.get_trial(trial._trial_id))
        return told

    def interrupt(self, trial: optuna.Trial) -> bool:
        """Put ``trial``, stopped here by Ctrl-C or SIGTERM, back in the
        study as WAITING: the next run takes it at once (no heartbeat
        grace period to wait out), with its number and cell, as neither a
        failure nor a retry (``max_retries`` and the failure budget do not
        count it). ``False`` where the study had finished it already."""
        try:
            frozen = self.storage.get_trial(trial._trial_id)
            if frozen.intermediate_values:
                # what it reported to the pruner would stand for the new
                # run's reports (Optuna keeps a step's first value): it is
                # set aside, uncounted, and its cell queued afresh
                self.finish(trial, TrialState.PRUNED, attrs=skip_attrs(
                    'interrupted; its cell is queued again as a new trial'))
                self.study.enqueue_trial(frozen.params,
                                         skip_if_exists=False)
                return True
            return bool(self.study._storage.set_trial_state_values(
                trial._trial_id, TrialState.WAITING))
        except UpdateFinishedTrialError:
            return False
        finally:
            self.heartbeat.release(trial._trial_id)

    def error_of(self, trial: optuna.Trial) -> str:
        """Why the study failed ``trial`` (another driver, or stale)."""
        frozen = self.storage.get_trial(trial._trial_id)
        return error_of(frozen) or 'failed by another driver'

    def fail_stale(self) -> List[TrialRecord]:
        """Fail trials whose driver stopped heartbeating (Optuna's
        ``fail_stale_trials``, plus the reason), retry them, and return
        their records. Trials this driver holds are alive by definition."""
        grace = self.storage.grace_period
        failed = []
        for trial_id in self.storage._get_stale_trial_ids(self._study_id):
            if self.heartbeat.holds(trial_id):
                continue
            error = (f'stale: no heartbeat for over {grace}s, its driver '
                     'was killed or hung')
            try:
                for k, v in stale_attrs(error, STALE).items():
                    self.storage.set_trial_user_attr(trial_id, k, v)
                if not self.storage.set_trial_state_values(trial_id,
                                                           TrialState.FAIL):
                    continue
            except UpdateFinishedTrialError:
                continue  # another driver failed it first
            t = self.storage.get_trial(trial_id)
            self.retry(self.study, t)
            failed.append(TrialRecord.from_trial(t))
        return failed

    def fail_orphans(self) -> None:
        """Fail RUNNING trials whose driver died inside ``ask()``: they have
        no heartbeat (so stale failing skips them) and never got their
        cell, which a live driver sets milliseconds after asking."""
        grace = self.storage.grace_period or 0
        for tid in self._sync().orphans(time.time(), grace):
            if self.heartbeat.holds(tid):
                continue
            try:
                for k, v in skip_attrs('orphaned: its driver died while '
                                       'asking for it').items():
                    self.storage.set_trial_user_attr(tid, k, v)
                self.storage.set_trial_state_values(tid, TrialState.FAIL)
            except UpdateFinishedTrialError:
                pass  # another driver failed it first

    # --- reading the results ----------------------------------------------
    def trained_trials(self) -> List[TrialRecord]:
        """Complete trials, best first (by the first objective, ties by
        number), then pruned ones (latest rung first, then by value), then
        failed ones by number; skipped ones left out."""
        trials = [t for t in self.study.get_trials(deepcopy=False)
                  if skip_reason(t) is None]
        sign = self.settings.sign
        done = sorted((t for t in trials if t.state == TrialState.COMPLETE),
                      key=lambda t: (-sign * t.values[0], t.number))
        pruned = sorted(
            (t for t in trials if t.state == TrialState.PRUNED),
            key=lambda t: (-(stopped_at_of(t) or 0),
                           -sign * (t.values or [0.0])[0], t.number))
        failed = [t for t in trials if t.state == TrialState.FAIL]
        return [TrialRecord.from_trial(t) for t in done + pruned + failed]

    def complete_trials(self) -> List[TrialRecord]:
        """Complete trials, best first."""
        return [r for r in self.trained_trials() if r.complete]

    def pareto_front(self) -> Set[int]:
        """Numbers of the Pareto-optimal trials (several objectives)."""
        if len(self.settings.objectives) < 2:
            return set()
        return {t.number for t in self.study.best_trials}
