"""The search driver: sample, generate configs, launch, collect, resume.

The study lives in an Optuna storage (SQLite in the work dir by default, or
any RDB URL such as PostgreSQL, shared by drivers on many machines). Trials
are admitted in the order they started: a trial runs only if fewer than
``num_trials`` trials that started before it are running or complete, and
no trial that started before it holds the same architecture (canonical
form). So several drivers, restarts and retries end with exactly
``num_trials`` complete trials and no architecture trained twice.

Drivers heartbeat their running trials; a trial whose driver died is failed
once its heartbeat is older than the grace period, and retried (Optuna's
``RetryFailedTrialCallback``) up to ``max_retries`` times.
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
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from ..proxy.feature_cache import read_manifest
from ..registry import SEARCH_SPACES
from .architecture import Architecture
from .cost import head_cost
from .launchers import LocalLauncher, RayLauncher
from .leaderboard import write_leaderboard
from .optuna_adapter import OptunaSpaceAdapter
from .rerank import Reranker
from .trial import (COMPLETE, FAILED, read_timing, run_outcome,
                    train_command, trial_dir_name, write_result,
                    write_trial_config)

STRATEGIES = ('random', 'evolution', 'tpe', 'nsga2')
# heartbeats and stale-trial failing are used with ask/tell on purpose
warnings.filterwarnings('ignore', message='Heartbeat of storage')
warnings.filterwarnings('ignore', category=optuna.exceptions.ExperimentalWarning)
COST_OBJECTIVES = ('params', 'flops')
METRICS = ('mIoU', 'mAcc', 'aAcc')
STRATEGY_KEYS = dict(random={'seed'},
                     evolution={'seed', 'population_size', 'sample_size'})


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

    def __init__(self, cfg: Config, work_dir: str, workers: int = 1,
                 launcher: str = 'local', storage: Optional[str] = None,
                 ray_address: Optional[str] = None,
                 resume: bool = False) -> None:
        missing = [k for k in ('search_space', 'proxy_config', 'num_trials')
                   if k not in cfg]
        if missing:
            raise ValueError(f'search config lacks {missing}')
        self.cfg = cfg
        self.work_dir = osp.abspath(work_dir)
        os.makedirs(osp.join(self.work_dir, 'trials'), exist_ok=True)
        self.num_trials = int(cfg.num_trials)
        self.timeout = cfg.get('trial_timeout')
        self.max_retries = int(cfg.get('max_retries', 1))
        self.poll_interval = float(cfg.get('poll_interval', 0.5))
        self.space = SEARCH_SPACES.build(cfg.search_space)
        self.adapter = OptunaSpaceAdapter(self.space)
        self.distributions = self.adapter.distributions()
        self.objectives = self._objectives(cfg.get('objectives', [
            dict(name='mIoU', direction='maximize')]))
        self.constraints = dict(cfg.get('constraints', {}) or {})
        self.proxy_config = cfg.proxy_config
        self.proxy_options = cfg.get('proxy_cfg_options', {}) or {}
        self.seed = int(cfg.get('seed', 0))
        self._cost_shape = self._proxy_cost_shape()

        hb = cfg.get('heartbeat', {}) or {}
        url = storage or f'sqlite:///{osp.join(self.work_dir, "study.db")}'
        self.retry, callback_arg = _retry_callback(self.max_retries)
        self.storage = _open_storage(
            url, heartbeat_interval=int(hb.get('interval', 10)),
            grace_period=int(hb.get('grace_period', 30)),
            engine_kwargs=dict(pool_pre_ping=True),
            **{callback_arg: self.retry})
        self.study_name = cfg.get('study_name', 'dpc-search')
        exists = self.study_name in [
            s.study_name for s in optuna.study.get_all_study_summaries(
                self.storage)]
        if resume and not exists:
            raise ValueError(f'--resume: no study {self.study_name!r} in '
                             f'{url}')
        strategy = dict(cfg.get('strategy', dict(type='random')))
        self.strategy = strategy.pop('type')
        if self.strategy not in STRATEGIES:
            raise ValueError(f'strategy.type must be one of {STRATEGIES}, '
                             f'got {self.strategy!r}')
        unknown = set(strategy) - STRATEGY_KEYS.get(self.strategy,
                                                    set(strategy))
        if unknown:
            raise ValueError(f'strategy {self.strategy!r}: unknown keys '
                             f'{sorted(unknown)}')
        self.strategy_kw = strategy
        self.study = optuna.create_study(
            study_name=self.study_name, storage=self.storage,
            load_if_exists=True, sampler=self._sampler(),
            directions=[o['direction'] for o in self.objectives])
        self.rng = random.Random(self.strategy_kw.get('seed', self.seed))
        self.launcher = self._launcher(launcher, workers, ray_address)
        self.reranker = Reranker(self) if cfg.get('rerank') else None
        self.own: Dict[int, _Run] = {}
        self.prepared: Optional[_Run] = None
        self.session_walls: List[float] = []

    # --- set-up -------------------------------------------------------
    @staticmethod
    def _objectives(objs) -> List[Dict[str, str]]:
        out = []
        for o in objs:
            o = dict(o)
            if o.get('name') not in METRICS + COST_OBJECTIVES:
                raise ValueError(f'objective {o}: name must be one of '
                                 f'{METRICS + COST_OBJECTIVES}')
            if o.get('direction') not in ('maximize', 'minimize'):
                raise ValueError(f'objective {o}: direction must be '
                                 'maximize or minimize')
            out.append(o)
        if not out:
            raise ValueError('objectives is empty')
        return out

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

    def _launcher(self, kind: str, workers: int, address: Optional[str]):
        resources = self.cfg.get('resources', {}) or {}
        if kind == 'local':
            return LocalLauncher(workers, gpus=resources.get('gpus', ()))
        if kind == 'ray':
            return RayLauncher(address, resources.get('cpus_per_trial', 1),
                               resources.get('gpus_per_trial', 0),
                               max_concurrent=workers)
        raise ValueError(f'launcher must be local or ray, got {kind!r}')

    def _proxy_cost_shape(self) -> Dict[str, Any]:
        """Head settings and cached feature size, for trial cost."""
        proxy = Config.fromfile(self.proxy_config)
        proxy.merge_from_dict(self.proxy_options)
        head = proxy.model.decode_head
        root = proxy.train_dataloader.dataset.data_root
        split = proxy.train_dataloader.dataset.get('split', 'train')
        try:
            m = read_manifest(osp.join(root, split))
        except ValueError as e:
            raise ValueError(f'{e}\nBuild the proxy feature cache first: '
                             f'python tools/cache_features.py '
                             f'{self.proxy_config}') from e
        idx = head.get('in_index', -1)
        shape = m['feature_shapes'][idx]
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
        self.storage.record_heartbeat(trial._trial_id)
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
        sign = 1 if self.objectives[0]['direction'] == 'maximize' else -1
        parent = max(contenders, key=lambda t: sign * t.values[0])
        child = self.space.mutate(self._arch_of(parent), self.rng)
        self.study.enqueue_trial(self.adapter.params(child),
                                 user_attrs=dict(parent=parent.number))

    def _fail_orphans(self) -> None:
        """Fail RUNNING trials whose driver died inside ``ask()``: they have
        no heartbeat (so ``fail_stale_trials`` skips them) and never got
        their ``arch_hash``, which a live driver sets milliseconds after
        asking."""
        grace = self.storage.grace_period or 0
        now = time.time()
        for t in self.study.get_trials(deepcopy=False,
                                       states=(TrialState.RUNNING, )):
            if ('arch_hash' not in t.user_attrs and t.datetime_start
                    and now - t.datetime_start.timestamp() > 2 * grace):
                self.storage.set_trial_user_attr(
                    t._trial_id, 'skipped', 'orphaned: its driver died '
                    'while asking for it')
                self.storage.set_trial_state_values(t._trial_id,
                                                    TrialState.FAIL)

    def status(self) -> Dict[str, int]:
        trials = self.study.get_trials(deepcopy=False)
        counted = [t for t in trials if 'skipped' not in t.user_attrs]
        return dict(
            complete=sum(t.state == TrialState.COMPLETE for t in counted),
            running=sum(t.state == TrialState.RUNNING for t in counted),
            failed=sum(t.state == TrialState.FAIL for t in counted),
            skipped=len(trials) - len(counted))

    # --- running --------------------------------------------------------
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
            trial.set_user_attr('skipped', reason)
            self.study.tell(trial, state=TrialState.PRUNED)
            if not reason.startswith('quota'):
                print(f'[search] trial {trial.number} ({arch.hash}) '
                      f'skipped: {reason}')
            return reason
        run_dir = osp.join(self.work_dir, 'trials',
                           trial_dir_name(trial.number, arch))
        trial.set_user_attr('trial_dir', run_dir)
        for k, v in cost.items():
            trial.set_user_attr(k, v)
        try:
            write_trial_config(self.proxy_config, arch, run_dir,
                               self.proxy_options, seed=self.seed)
        except Exception as e:  # a broken proxy config fails this trial
            self._tell_failed(trial, run_dir, arch, cost, 0.0,
                              f'cannot write config: {e}')
            return None
        self.prepared = _Run(trial, arch, run_dir, cost, 0.0)
        return None

    def _start_prepared(self) -> None:
        run, self.prepared = self.prepared, None
        self.launcher.submit(
            run.trial.number,
            train_command(osp.join(run.dir, 'config.py'), run.dir),
            osp.join(run.dir, 'train.log'), self.timeout,
            env=self._trial_env())
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

    def _trial_env(self) -> Dict[str, str]:
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        env.setdefault('OMP_NUM_THREADS', str(self.cfg.get(
            'threads_per_trial', max(1, (os.cpu_count() or 1) //
                                     max(1, self.launcher.workers)))))
        return env

    def _result(self, run: _Run, wall: float, status: str,
                metrics: Optional[dict] = None,
                error: Optional[str] = None) -> Dict[str, Any]:
        return dict(trial=run.trial.number, arch_hash=run.arch.hash,
                    arch=run.arch.to_list(), status=status,
                    metrics=metrics or {}, **run.cost, wall_time=wall,
                    **read_timing(run.dir), error=error,
                    config=osp.join(run.dir, 'config.py'))

    def _tell_failed(self, trial, run_dir, arch, cost, wall, error) -> None:
        run = _Run(trial, arch, run_dir, cost, time.time())
        os.makedirs(run_dir, exist_ok=True)
        write_result(run_dir, self._result(run, wall, FAILED, error=error))
        trial.set_user_attr('error', error)
        trial.set_user_attr('wall_time', wall)
        self.study.tell(trial, state=TrialState.FAIL)
        print(f'[search] trial {trial.number} ({arch.hash}) FAILED: '
              f'{error.splitlines()[0] if error else ""}')
        self.retry(self.study, self.study._storage.get_trial(trial._trial_id))

    def _collect(self, fin) -> None:
        run = self.own.pop(fin.key)
        metrics, error = run_outcome(run.dir, fin, self.timeout)
        if error is not None:
            self._tell_failed(run.trial, run.dir, run.arch, run.cost,
                              fin.wall_time, error)
            return
        values = [metrics[o['name']] if o['name'] in metrics else
                  run.cost[o['name']] for o in self.objectives]
        write_result(run.dir, self._result(run, fin.wall_time, COMPLETE,
                                           metrics))
        for k, v in metrics.items():
            run.trial.set_user_attr(k, v)
        run.trial.set_user_attr('error', None)  # a retry inherits attrs
        run.trial.set_user_attr('wall_time', fin.wall_time)
        self.study.tell(run.trial, values)
        self.session_walls.append(fin.wall_time)
        print(f'[search] trial {run.trial.number} ({run.arch.hash}) '
              f'complete: mIoU {metrics.get("mIoU", float("nan")):.2f}, '
              f'{run.cost["flops"] / 1e6:.1f} MFLOPs, '
              f'{fin.wall_time:.1f}s')

    def progress(self, start: float) -> str:
        st = self.status()
        best = ''
        done = [t for t in self.study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, ))
            if 'skipped' not in t.user_attrs]
        if done:
            sign = 1 if self.objectives[0]['direction'] == 'maximize' else -1
            b = max(done, key=lambda t: sign * t.values[0])
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
        returns the summary written to ``summary.json``."""
        start = time.time()
        last_print = 0.0
        print(f'[search] study {self.study_name!r}, {self.space}, '
              f'{self.space.size:.3g} cells, strategy {self.strategy}, '
              f'{self.num_trials} trials, {self.launcher.workers} workers')
        try:
            while True:
                optuna.storages.fail_stale_trials(self.study)
                self._fail_orphans()
                finished = self.launcher.poll()
                for fin in finished:
                    self._collect(fin)
                mine = list(self.own.values()) + (
                    [self.prepared] if self.prepared else [])
                for run in mine:
                    self.storage.record_heartbeat(run.trial._trial_id)
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
        finally:
            self.launcher.shutdown()
        print(self.progress(start))
        summary = write_leaderboard(self)
        if self.reranker is not None:
            summary['rerank'] = self.reranker.run()
            summary = write_leaderboard(self)
        print(f'[search] leaderboard: {summary["leaderboard_csv"]}')
        return summary
