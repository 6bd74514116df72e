"""The search driver: sample, generate configs, launch, collect, resume.

The study lives in an Optuna storage (SQLite in the work dir by default, or
any RDB URL such as PostgreSQL, shared by drivers on many machines). Trials
are admitted in the order they started: a trial runs only if fewer than
``num_trials`` trials that started before it are running or complete, and
no trial that started before it holds the same architecture (canonical
form). So several drivers, restarts and retries end with exactly
``num_trials`` complete trials and no architecture trained twice.

Drivers heartbeat their running trials from a thread of their own, so a
driver busy for seconds never lets its live trials look stale; a trial
whose driver died is failed (with that reason) once its heartbeat is older
than the grace period, and retried (Optuna's retry callback) up to
``max_retries`` times. A search whose trials keep failing stops with a
named error (``failure_budget``), keeping what completed.
"""
from __future__ import annotations

import os
import os.path as osp
import random
import time
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import optuna
from mmengine.config import Config
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from ..proxy import check_proxy_cache
from ..registry import SEARCH_SPACES
from .architecture import Architecture
from .cost import head_cost
from .heartbeat import HeartbeatThread
from .launchers import LocalLauncher, RayLauncher
from .leaderboard import write_leaderboard
from .optuna_adapter import OptunaSpaceAdapter
from .rerank import Reranker
from .settings import (COST_OBJECTIVES, SearchSettings, check_workers,
                       default_storage)
from .trial import (COMPLETE, FAILED, read_timing, run_outcome, train_command,
                    trial_dir_name, write_result, write_trial_config)

# heartbeats and stale-trial failing are used with ask/tell on purpose
warnings.filterwarnings('ignore', message='Heartbeat of storage')
warnings.filterwarnings('ignore', category=optuna.exceptions.ExperimentalWarning)
# why a trial failed (user attr ``failure``): its own error, its driver's
# silence, or its search stopping; only the first counts against the budget
TRIAL_ERROR, STALE, STOPPED = 'trial', 'stale', 'stopped'


class SearchStopped(RuntimeError):
    """The search ended early (its failure budget was spent)."""


@dataclass
class _Run:
    trial: optuna.Trial
    arch: Architecture
    dir: str
    cost: Dict[str, int]
    start: float


def _retry_callback(max_retry: int):
    """Optuna's retry-on-stale callback and the RDBStorage argument that
    takes it (renamed in Optuna 4.9)."""
    import inspect
    if 'heartbeat_stale_trial_callback' in inspect.signature(
            RDBStorage.__init__).parameters:
        from optuna.storages import RetryHeartbeatStaleTrialCallback
        return (RetryHeartbeatStaleTrialCallback(max_retry=max_retry),
                'heartbeat_stale_trial_callback')
    from optuna.storages import RetryFailedTrialCallback
    return RetryFailedTrialCallback(max_retry=max_retry), \
        'failed_trial_callback'


def _open_storage(url: str, attempts: int = 6, **kwargs) -> RDBStorage:
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


def fmt_time(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f'{h}h{m:02d}m{s:02d}s' if h else f'{m}m{s:02d}s'


class SearchDriver:
    """Runs the search a search config describes (see
    ``configs/search/``).

    Args:
        cfg: the search config.
        work_dir: where trials, the study (SQLite) and results go.
        workers: concurrent trials (local launcher) or max concurrent Ray
            tasks (``None``: as many as the cluster's CPUs allow).
        launcher: ``'local'`` or ``'ray'``.
        storage: an Optuna storage URL (default: SQLite in ``work_dir``).
        ray_address: the Ray cluster (``None``: a local Ray runtime).
        resume: require an existing study to continue.
    """

    def __init__(self, cfg: Config, work_dir: str,
                 workers: Optional[int] = None, launcher: str = 'local',
                 storage: Optional[str] = None,
                 ray_address: Optional[str] = None,
                 resume: bool = False) -> None:
        # everything that can be checked is checked before anything exists
        self.settings = st = SearchSettings.from_config(cfg)
        check_workers(workers, launcher)
        self.work_dir = osp.abspath(work_dir)
        self.num_trials = st.num_trials
        self.timeout = st.trial_timeout
        self.max_retries = st.max_retries
        self.poll_interval = st.poll_interval
        self.space = SEARCH_SPACES.build(st.search_space)
        self.adapter = OptunaSpaceAdapter(self.space)
        self.distributions = self.adapter.distributions()
        self.objectives = st.objectives
        self.constraints = st.constraints
        self.proxy_config = st.proxy_config
        self.proxy_options = st.proxy_cfg_options
        self.seed = st.seed
        self.strategy = st.strategy['type']
        self.strategy_kw = {k: v for k, v in st.strategy.items()
                            if k != 'type'}
        self._cost_shape = self._proxy_cost_shape()
        url = storage or default_storage(self.work_dir)
        if resume and storage is None and not osp.exists(
                osp.join(self.work_dir, 'study.db')):
            raise ValueError(f'--resume: no study in {self.work_dir} '
                             '(no study.db)')

        os.makedirs(osp.join(self.work_dir, 'trials'), exist_ok=True)
        self.retry, callback_arg = _retry_callback(self.max_retries)
        self.storage = _open_storage(
            url, heartbeat_interval=st.heartbeat_interval,
            grace_period=st.grace_period,
            engine_kwargs=dict(pool_pre_ping=True),
            **{callback_arg: self.retry})
        self.study_name = st.study_name
        exists = self.study_name in [
            s.study_name for s in optuna.study.get_all_study_summaries(
                self.storage)]
        if resume and not exists:
            raise ValueError(f'--resume: no study {self.study_name!r} in '
                             f'{url}')
        self.study = optuna.create_study(
            study_name=self.study_name, storage=self.storage,
            load_if_exists=True, sampler=self._sampler(),
            directions=[o['direction'] for o in self.objectives])
        self.rng = random.Random(self.strategy_kw.get('seed', self.seed))
        self.launcher = self._launcher(launcher, workers, ray_address)
        self.reranker = Reranker(self) if st.rerank else None
        self.heartbeat: Optional[HeartbeatThread] = None
        self.own: Dict[int, _Run] = {}
        self.prepared: Optional[_Run] = None
        self.session_walls: List[float] = []
        self.started_at = time.time()

    # --- set-up -------------------------------------------------------
    def _sampler(self) -> optuna.samplers.BaseSampler:
        kw = dict(self.strategy_kw)
        seed = kw.pop('seed', self.seed)
        if self.strategy in ('random', 'evolution'):
            return optuna.samplers.RandomSampler(seed=seed)
        cls = (optuna.samplers.TPESampler if self.strategy == 'tpe' else
               optuna.samplers.NSGAIISampler)
        try:
            return cls(seed=seed, **kw)
        except TypeError as e:
            raise ValueError(f'strategy {self.strategy!r}: {e}') from e

    def _launcher(self, kind: str, workers: Optional[int],
                  address: Optional[str]):
        resources = self.settings.resources
        if kind == 'local':
            return LocalLauncher(workers or 1,
                                 gpus=resources.get('gpus', ()))
        return RayLauncher(address, resources.get('cpus_per_trial', 1),
                           resources.get('gpus_per_trial', 0),
                           max_concurrent=workers)

    def _proxy_cost_shape(self) -> Dict[str, Any]:
        """Head settings and cached feature size, for trial cost; the
        proxy config and its cache are checked here, before any trial."""
        proxy = Config.fromfile(self.proxy_config)
        proxy.merge_from_dict(self.proxy_options)
        head = proxy.model.decode_head
        if head.get('type') != 'DPCHead':
            raise ValueError(f'proxy_config {self.proxy_config}: '
                             f'model.decode_head is {head.get("type")}, not '
                             'DPCHead')
        shape = check_proxy_cache(proxy)
        return dict(in_channels=head.in_channels, channels=head.channels,
                    num_classes=head.num_classes,
                    output_stride=head.get('output_stride', 16),
                    feature_size=tuple(shape[1:]))

    def cost(self, arch: Architecture) -> Dict[str, int]:
        c = head_cost(arch.branches, **self._cost_shape)
        return dict(params=c.params, flops=c.flops)

    # --- study bookkeeping ---------------------------------------------
    def _arch_of(self, t) -> Optional[Architecture]:
        if len(t.params) < len(self.distributions):
            return None
        return self.adapter.from_params(t.params)

    @staticmethod
    def _order(t) -> Tuple[float, int]:
        start = t.datetime_start.timestamp() if t.datetime_start else 0.0
        return (start, t.number)

    @staticmethod
    def _counted(t) -> bool:
        return (t.state in (TrialState.RUNNING, TrialState.COMPLETE)
                and 'skipped' not in t.user_attrs)

    def _admit(self, trial: optuna.Trial, arch: Architecture,
               cost: Dict[str, int]) -> Optional[str]:
        """``None`` to run ``trial``, else why it is skipped."""
        me = None
        for _ in range(100):  # wait out trials still being asked
            trials = self.study.get_trials(deepcopy=False)
            me = next(t for t in trials if t.number == trial.number)
            earlier = [t for t in trials if self._counted(t)
                       and t.number != trial.number
                       and self._order(t) < self._order(me)]
            if all(self._arch_of(t) is not None for t in earlier):
                break
            time.sleep(0.05)
        for t in earlier:
            if self._arch_of(t) == arch:
                return f'duplicate of trial {t.number}'
        if len(earlier) >= self.num_trials:
            return 'quota full'
        for key in COST_OBJECTIVES:
            limit = self.constraints.get(f'max_{key}')
            if limit is not None and cost[key] > limit:
                return f'infeasible: {key} {cost[key]:,} > max_{key} {limit:,}'
        return None

    def _next_trial(self) -> optuna.Trial:
        if self.strategy == 'evolution':
            self._enqueue_child()
        trial = self.study.ask(self.distributions)
        # At once: a trial without any heartbeat is never failed as stale,
        # so one asked by a driver that dies before its first heartbeat
        # would hold its slot forever.
        self.heartbeat.hold(trial._trial_id)
        return trial

    def _enqueue_child(self) -> None:
        """Regularized evolution (Real et al. 2019): tournament over the
        youngest ``population_size`` complete trials, mutate the winner."""
        size = self.strategy_kw.get('population_size', 20)
        sample = self.strategy_kw.get('sample_size', 5)
        waiting = self.study.get_trials(deepcopy=False,
                                        states=(TrialState.WAITING, ))
        if waiting:  # retries go first
            return
        done = [t for t in self.study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, ))
            if 'skipped' not in t.user_attrs]
        if len(done) < size:
            return  # the initial population is random
        population = sorted(done, key=self._order)[-size:]  # aging
        contenders = self.rng.sample(population, min(sample, len(population)))
        parent = max(contenders,
                     key=lambda t: self.settings.sign * t.values[0])
        child = self.space.mutate(self._arch_of(parent), self.rng)
        self.study.enqueue_trial(self.adapter.params(child),
                                 user_attrs=dict(parent=parent.number))

    def _fail_orphans(self) -> None:
        """Fail RUNNING trials whose driver died inside ``ask()``: they have
        no heartbeat (so stale failing skips them) and never got their
        ``arch_hash``, which a live driver sets milliseconds after
        asking."""
        grace = self.storage.grace_period or 0
        now = time.time()
        for t in self.study.get_trials(deepcopy=False,
                                       states=(TrialState.RUNNING, )):
            if ('arch_hash' not in t.user_attrs and t.datetime_start
                    and now - t.datetime_start.timestamp() > 2 * grace
                    and not self.heartbeat.holds(t._trial_id)):
                try:
                    self.storage.set_trial_user_attr(
                        t._trial_id, 'skipped', 'orphaned: its driver died '
                        'while asking for it')
                    self.storage.set_trial_state_values(t._trial_id,
                                                        TrialState.FAIL)
                except UpdateFinishedTrialError:
                    pass  # another driver failed it first

    def _fail_stale(self) -> None:
        """Fail trials whose driver stopped heartbeating (Optuna's
        ``fail_stale_trials``, plus the reason: in the trial and, where
        its folder is on this machine, in its ``result.json``), then retry
        them. Trials this driver holds are alive by definition."""
        grace = self.storage.grace_period
        for trial_id in self.storage._get_stale_trial_ids(
                self.study._study_id):
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
                continue  # it finished, or another driver failed it
            t = self.storage.get_trial(trial_id)
            print(f'[search] trial {t.number} failed: {error}')
            run_dir = t.user_attrs.get('trial_dir')
            if run_dir and osp.isdir(run_dir) and 'arch' in t.user_attrs:
                arch = Architecture.from_json(t.user_attrs['arch'])
                cost = {k: t.user_attrs.get(k) for k in COST_OBJECTIVES}
                run = _Run(t, arch, run_dir, cost, 0.0)
                write_result(run_dir, self._result(run, 0.0, FAILED,
                                                   error=error))
            self.retry(self.study, t)

    def status(self) -> Dict[str, int]:
        trials = self.study.get_trials(deepcopy=False)
        counted = [t for t in trials if 'skipped' not in t.user_attrs]
        return dict(
            complete=sum(t.state == TrialState.COMPLETE for t in counted),
            running=sum(t.state == TrialState.RUNNING for t in counted),
            failed=sum(t.state == TrialState.FAIL for t in counted),
            skipped=len(trials) - len(counted))

    def _check_failure_budget(self) -> None:
        """Raise :class:`SearchStopped` once the trials that finished since
        this driver started pass the failure budget (their own failures
        only: a dead driver's trials do not count)."""
        budget = self.settings.failure_budget
        finished = sorted(
            (t for t in self.study.get_trials(
                deepcopy=False, states=(TrialState.COMPLETE,
                                        TrialState.FAIL))
             if 'skipped' not in t.user_attrs and t.datetime_complete
             and t.datetime_complete.timestamp() >= self.started_at
             and (t.state == TrialState.COMPLETE
                  or t.user_attrs.get('failure') == TRIAL_ERROR)),
            key=lambda t: t.datetime_complete)
        failed = [t for t in finished if t.state == TrialState.FAIL]
        last = finished[-budget.consecutive:]
        if (len(last) == budget.consecutive
                and all(t.state == TrialState.FAIL for t in last)):
            why = (f'the last {budget.consecutive} trials failed '
                   f'(failure_budget.consecutive={budget.consecutive})')
        elif (len(finished) >= 2 * budget.consecutive
              and len(failed) > budget.fraction * len(finished)):
            why = (f'{len(failed)} of {len(finished)} trials failed '
                   f'(failure_budget.fraction={budget.fraction})')
        else:
            return
        lines = (failed[-1].user_attrs.get('error') or '').strip()
        lines = [line.strip() for line in lines.splitlines() if line.strip()]
        error = ' ... '.join(lines[:1] + lines[-1:] if len(lines) > 1 else
                             lines)  # for a traceback: the exception
        raise SearchStopped(
            f'search stopped: {why}; the last failure, trial '
            f'{failed[-1].number}: {error}'
            f'\nThe {self.status()["complete"]} complete trials are kept: '
            'fix the cause (see the trial\'s train.log) and run the same '
            'command again to continue.')

    # --- running --------------------------------------------------------
    def _finish(self, trial: optuna.Trial, state: TrialState,
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
            if self.storage.get_trial(
                    trial._trial_id).state.is_finished():
                return False
            raise e
        finally:
            self.heartbeat.release(trial._trial_id)

    def _prepare(self) -> Optional[str]:
        """Ask for a trial, admit it and write its config, ready to start
        when a slot frees (so the next trial starts without delay). Returns
        why it was skipped, if it was."""
        trial = self._next_trial()
        arch = self.adapter.from_params(trial.params)
        trial.set_user_attr('arch_hash', arch.hash)
        trial.set_user_attr('arch', arch.to_json())
        cost = self.cost(arch)
        reason = self._admit(trial, arch, cost)
        if reason is not None:
            self._finish(trial, TrialState.PRUNED, attrs=dict(skipped=reason))
            if not reason.startswith('quota'):
                print(f'[search] trial {trial.number} ({arch.hash}) '
                      f'skipped: {reason}')
            return reason
        run_dir = osp.join(self.work_dir, 'trials',
                           trial_dir_name(trial.number, arch))
        trial.set_user_attr('trial_dir', run_dir)
        for k, v in cost.items():
            trial.set_user_attr(k, v)
        run = _Run(trial, arch, run_dir, cost, 0.0)
        try:
            write_trial_config(self.proxy_config, arch, run_dir,
                               self.proxy_options, seed=self.seed)
        except Exception as e:  # a broken proxy config fails this trial
            self._tell_failed(run, 0.0, f'cannot write config: {e}',
                              TRIAL_ERROR)
            return None
        self.prepared = run
        return None

    def _start_prepared(self) -> None:
        run, self.prepared = self.prepared, None
        self.launcher.submit(
            run.trial.number,
            train_command(osp.join(run.dir, 'config.py'), run.dir),
            osp.join(run.dir, 'train.log'), self.timeout,
            env=self.trial_env())
        run.start = time.time()
        self.own[run.trial.number] = run
        print(f'[search] trial {run.trial.number} ({run.arch.hash}) '
              f'started: {run.arch}')

    def _fill(self) -> bool:
        """Start prepared trials in free slots and keep one prepared while
        the quota allows; returns whether anything was started."""
        started = skips = 0
        while True:
            if self.prepared is not None:
                if self.launcher.free_slots <= 0:
                    return bool(started)
                self._start_prepared()
                started += 1
                continue
            st = self.status()
            if st['complete'] + st['running'] >= self.num_trials:
                return bool(started)
            reason = self._prepare()
            if reason and reason.startswith('quota'):
                return bool(started)  # another driver's trial is admitted
            skips = skips + 1 if reason else 0
            if skips >= 1000:
                raise RuntimeError(
                    '1000 samples in a row were duplicates or infeasible: '
                    'the space (or its feasible part) has fewer '
                    'architectures than num_trials')

    def trial_env(self) -> Dict[str, str]:
        """The environment of a trial process (threads split between
        concurrent trials)."""
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        threads = self.settings.threads_per_trial or max(
            1, (os.cpu_count() or 1) // max(1, self.launcher.workers))
        env.setdefault('OMP_NUM_THREADS', str(threads))
        return env

    def _result(self, run: _Run, wall: float, status: str,
                metrics: Optional[dict] = None,
                error: Optional[str] = None) -> Dict[str, Any]:
        return dict(trial=run.trial.number, arch_hash=run.arch.hash,
                    arch=run.arch.to_list(), status=status,
                    metrics=metrics or {}, **run.cost, wall_time=wall,
                    **read_timing(run.dir), error=error,
                    config=osp.join(run.dir, 'config.py'))

    def _tell_failed(self, run: _Run, wall: float, error: str,
                     failure: str) -> None:
        """Fail ``run`` with ``error`` in the study and its result.json,
        and retry it (``max_retries``)."""
        os.makedirs(run.dir, exist_ok=True)
        told = self._finish(run.trial, TrialState.FAIL, attrs=dict(
            error=error, failure=failure, wall_time=wall))
        if not told:
            error = self._failed_elsewhere(run.trial, error)
        write_result(run.dir, self._result(run, wall, FAILED, error=error))
        print(f'[search] trial {run.trial.number} ({run.arch.hash}) '
              f'FAILED: {error.splitlines()[0] if error else ""}')
        if told:
            self.retry(self.study,
                       self.storage.get_trial(run.trial._trial_id))

    def _failed_elsewhere(self, trial: optuna.Trial, outcome: str) -> str:
        """The error of a trial the study failed while this driver ran it
        (stale, failed by another driver), with what it really did."""
        frozen = self.storage.get_trial(trial._trial_id)
        why = frozen.user_attrs.get('error') or 'failed by another driver'
        return (f'{why}; the study failed it while it ran here, so its '
                f'outcome is not recorded ({outcome})')

    def _collect(self, fin) -> None:
        run = self.own.pop(fin.key)
        metrics, error = run_outcome(run.dir, fin, self.timeout)
        if error is not None:
            self._tell_failed(run, fin.wall_time, error, TRIAL_ERROR)
            return
        values = [metrics[o['name']] if o['name'] in metrics else
                  run.cost[o['name']] for o in self.objectives]
        # error=None: a retry inherits the failed trial's attributes
        told = self._finish(run.trial, TrialState.COMPLETE, values, dict(
            **metrics, error=None, failure=None, wall_time=fin.wall_time))
        if not told:
            error = self._failed_elsewhere(
                run.trial, f'it completed: mIoU {metrics.get("mIoU")}')
            write_result(run.dir, self._result(run, fin.wall_time, FAILED,
                                               metrics, error))
            print(f'[search] trial {run.trial.number} ({run.arch.hash}) '
                  f'completed, but {error}')
            return
        write_result(run.dir, self._result(run, fin.wall_time, COMPLETE,
                                           metrics))
        self.session_walls.append(fin.wall_time)
        print(f'[search] trial {run.trial.number} ({run.arch.hash}) '
              f'complete: mIoU {metrics.get("mIoU", float("nan")):.2f}, '
              f'{run.cost["flops"] / 1e6:.1f} MFLOPs, '
              f'{fin.wall_time:.1f}s')

    def _stop_own(self, why: str) -> None:
        """End this driver's trials (killed, prepared) as failed with
        ``why``, and retry them: a later run continues where this one
        stopped."""
        self.launcher.shutdown()
        runs = list(self.own.values()) + (
            [self.prepared] if self.prepared else [])
        self.own.clear()
        self.prepared = None
        for run in runs:
            try:
                self._tell_failed(run, time.time() - run.start
                                  if run.start else 0.0,
                                  f'the search stopped: {why}', STOPPED)
            except Exception as e:  # the storage itself may be the cause
                print(f'[search] could not fail trial {run.trial.number}: '
                      f'{type(e).__name__}: {e}')

    def progress(self, start: float) -> str:
        st = self.status()
        best = ''
        done = [t for t in self.study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, ))
            if 'skipped' not in t.user_attrs]
        if done:
            b = max(done, key=lambda t: self.settings.sign * t.values[0])
            best = (f' | best {self.objectives[0]["name"]} '
                    f'{b.values[0]:.2f} (trial {b.number}, '
                    f'{b.user_attrs.get("arch_hash")})')
        elapsed = time.time() - start
        left = self.num_trials - st['complete']
        eta = ''
        if self.session_walls and left > 0:
            per = sum(self.session_walls) / len(self.session_walls)
            eta = f', ETA {fmt_time(per * left / self.launcher.workers)}'
        # the prefetched trial is RUNNING in the study but not started yet
        prepared = ' (+1 prepared)' if self.prepared is not None else ''
        running = st['running'] - (self.prepared is not None)
        return (f'[search] {st["complete"]}/{self.num_trials} done, '
                f'{running} running{prepared}, {st["failed"]} failed{best} '
                f'| elapsed {fmt_time(elapsed)}{eta}')

    def run(self) -> Dict[str, Any]:
        """Run until ``num_trials`` trials are complete, then re-rank;
        returns the summary written to ``summary.json``. Raises
        :class:`SearchStopped` when the failure budget is spent (results
        written first)."""
        start = time.time()
        last_print = 0.0
        print(f'[search] study {self.study_name!r}, {self.space}, '
              f'{self.space.size:.3g} cells, strategy {self.strategy}, '
              f'{self.num_trials} trials, {self.launcher.workers} workers')
        self.heartbeat = HeartbeatThread(self.storage,
                                         self.settings.heartbeat_interval)
        try:
            while True:
                self._fail_stale()
                self._fail_orphans()
                finished = self.launcher.poll()
                for fin in finished:
                    self._collect(fin)
                if finished:
                    self._check_failure_budget()
                st = self.status()
                if (st['complete'] >= self.num_trials and not self.own
                        and self.prepared is None):
                    break
                launched = self._fill()
                if finished or launched or time.time() - last_print > 30:
                    print(self.progress(start), flush=True)
                    last_print = time.time()
                    write_leaderboard(self)
                self.launcher.wait(self.poll_interval)
        except BaseException as e:
            self._stop_own(str(e).splitlines()[0] if str(e) else
                           type(e).__name__)
            try:  # what completed stays on the leaderboard
                write_leaderboard(self)
            except Exception as board_error:
                print(f'[search] could not write the leaderboard: '
                      f'{board_error}')
            raise
        finally:
            self.launcher.shutdown()
            self.heartbeat.stop()
        print(self.progress(start))
        summary = write_leaderboard(self)
        if self.reranker is not None:
            self.reranker.run()
            summary = write_leaderboard(self)
        print(f'[search] leaderboard: {summary["leaderboard_csv"]}')
        return summary
