"""The trial runner: prepare -> launch -> collect.

The proxy search, re-ranking, the verdict and the fidelity tool are the same
runner with another base config: each trial is the base config with its
cell in the DPC head (or a baseline's own head), dumped as one standalone
``config.py`` (which ``tools/train.py``, ours or mmseg's, runs on its own),
trained in its own process by a launcher running the installed package's
:mod:`mmseg_dpc.tools.train`, and collected as a
:class:`~.record.TrialRecord`.
"""
from __future__ import annotations

import copy
import os
import os.path as osp
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from mmengine.config import Config

from ..engine import (METRICS_FILE, add_metrics_hook, read_metrics,
                      read_metrics_file)
from ..feature_cache import expect_cache_source
from ..utils.config import in_mmseg_scope, resolve_config_path
from . import interrupt
from .architecture import Architecture
from .fingerprint import (ON_CHANGED, ChangedRunsError, ConfigChange,
                          config_change)
from .record import RESULT_FILE, TrialRecord

# the module each trial runs (``python -m``): part of the installed package,
# so trials start wherever the package is installed, clone or wheel
TRAIN_MODULE = 'mmseg_dpc.tools.train'
# what a run writes that a new run in its folder must not inherit
STALE_FILES = (METRICS_FILE, RESULT_FILE, 'timing.json')


def trial_dir_name(number: int, arch: Architecture) -> str:
    return f'{number:04d}-{arch.hash}'


def load_base_config(path: str, cfg_options: Optional[dict] = None,
                     backbone_from: Optional[str] = None,
                     any_head: bool = False) -> Config:
    """The config every trial of a runner starts from: ``path`` with
    ``cfg_options``, data roots made absolute, the metrics file hook, and,
    for a proxy, the feature cache it must train on. ``backbone_from``
    starts the model from that checkpoint's backbone and nothing else
    (``load_from`` would also copy the checkpoint's own cell into each
    trial's branches, wherever the shapes fit). ``any_head``: a baseline
    trained as it is, whatever its decode head (else it must be DPC)."""
    cfg = in_mmseg_scope(Config.fromfile(path))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    head = cfg.model.decode_head
    if head.get('type') != 'DPCHead' and not any_head:
        raise ValueError(f'{path}: model.decode_head is {head.get("type")}, '
                         'not DPCHead')
    if backbone_from:
        cfg.model.backbone.init_cfg = dict(
            type='Pretrained', checkpoint=osp.abspath(backbone_from),
            prefix='backbone.')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)  # absolute: the config runs from anywhere
        if loader and 'data_root' in loader.get('dataset', {}):
            loader.dataset.data_root = osp.abspath(loader.dataset.data_root)
    if 'feature_source' in cfg:  # a proxy: it trains on the cache it expects
        cfg.feature_source = resolve_config_path(cfg, 'feature_source')
        expect_cache_source(cfg)
    add_metrics_hook(cfg)
    # the bases' top-level `dpc_arch` is the released cell, not a trial's
    return Config({k: v for k, v in cfg.to_dict().items() if k != 'dpc_arch'},
                  filename=cfg.filename)


def trial_config(base: Config, arch: Optional[Architecture], out_dir: str,
                 seed: int = 0,
                 report: Optional[Dict[str, Any]] = None) -> Config:
    """``base`` (see :func:`load_base_config`) with ``arch`` in its DPC
    head (``None``: the head as it is), the seed and work dir of a run in
    ``out_dir``. ``report``: the trial reports to the study (see
    :mod:`.pruning`)."""
    cfg = copy.deepcopy(base)
    if report is not None:
        from .pruning import add_pruning_hook  # optuna: only with a pruner
        add_pruning_hook(cfg, report)
    if arch is not None:
        head_cfg = arch.head_config()
        head = cfg.model.decode_head
        head.arch = head_cfg['arch']
        for key in ('rates', 'grids'):
            if key in head_cfg:
                head[key] = head_cfg[key]
        cfg.arch_hash = arch.hash
    cfg.work_dir = osp.abspath(out_dir)
    cfg.randomness = dict(seed=seed)
    return cfg


def write_trial_config(base: Config, arch: Optional[Architecture],
                       out_dir: str, seed: int = 0,
                       report: Optional[Dict[str, Any]] = None) -> str:
    """:func:`trial_config` dumped as ``out_dir/config.py``; returns its
    path."""
    cfg = trial_config(base, arch, out_dir, seed, report)
    os.makedirs(out_dir, exist_ok=True)
    path = osp.join(out_dir, 'config.py')
    cfg.dump(path)
    return path


def train_command(config: str, work_dir: str) -> List[str]:
    """The command a trial runs: the package's train tool in a fresh
    process."""
    return [sys.executable, '-m', TRAIN_MODULE, config, '--work-dir',
            work_dir]


def tail(path: str, n: int = 15) -> str:
    if not osp.exists(path):
        return ''
    with open(path, errors='replace') as f:
        return ''.join(f.readlines()[-n:])


@dataclass
class TrialRun:
    """A trial in a runner's hands: prepared, then launched. ``arch``
    ``None``: ``base``'s own head (a baseline)."""
    key: Any
    number: int
    arch: Optional[Architecture]
    dir: str
    cost: Dict[str, int]
    report: Optional[Dict[str, Any]] = None  # to the study, at rungs
    seed: Optional[int] = None  # the runner's unless set
    base: Optional[Config] = None  # the runner's unless set
    started: Optional[float] = None

    def record(self, wall_time: float, metrics=None, error=None,
               initialised=None, stopped_at=None) -> TrialRecord:
        return TrialRecord.build(self.number, self.arch, self.dir,
                                 self.cost, wall_time, metrics, error,
                                 initialised, stopped_at)


class TrialRunner:
    """Runs trials of one base config through a launcher.

    Args:
        launcher: a :class:`~.launchers.LocalLauncher` or
            :class:`~.launchers.RayLauncher`.
        base: the config each trial puts its cell into (see
            :func:`load_base_config`).
        seed: the training seed of every trial.
        timeout: seconds after which a trial is killed and FAILED.
        threads_per_trial: torch threads of each trial (default: the CPUs
            split between the launcher's workers).
        initialised: what the models start from, for the records.
        env: more environment variables of the trial processes.
        on_changed: what :meth:`train` does with a complete run whose
            ``config.py`` differs from the one it would write now (other
            settings, in a resumed work dir): ``'retrain'`` it, or
            ``'refuse'``: raise :class:`~.fingerprint.ChangedRunsError`
            naming the keys that differ, before anything trains.
    """

    def __init__(self, launcher, base: Config, seed: int = 0,
                 timeout: Optional[float] = None,
                 threads_per_trial: Optional[int] = None,
                 initialised: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None,
                 on_changed: str = 'retrain') -> None:
        if on_changed not in ON_CHANGED:
            raise ValueError(f'on_changed must be one of {ON_CHANGED}, got '
                             f'{on_changed!r}')
        self.on_changed = on_changed
        self.launcher = launcher
        self.base = base
        self.seed = seed
        self.timeout = timeout
        self.threads = threads_per_trial
        self.initialised = initialised
        self.extra_env = dict(env or {})
        self.running: Dict[Any, TrialRun] = {}

    @property
    def free_slots(self) -> int:
        return self.launcher.free_slots

    def config(self, run: TrialRun) -> Config:
        """The config ``run`` trains with."""
        return trial_config(run.base or self.base, run.arch, run.dir,
                            seed=self.seed if run.seed is None else run.seed,
                            report=run.report)

    def prepare(self, run: TrialRun) -> None:
        """Write the trial's ``config.py`` (raises where it cannot), and
        remove what an earlier, unfinished run left in its folder (its
        metrics must not be taken for this run's)."""
        for name in STALE_FILES:
            path = osp.join(run.dir, name)
            if osp.exists(path):
                os.remove(path)
        write_trial_config(run.base or self.base, run.arch, run.dir,
                           seed=self.seed if run.seed is None else run.seed,
                           report=run.report)

    def changed(self, run: TrialRun) -> Optional[ConfigChange]:
        """How the ``config.py`` in ``run``'s folder differs from the one
        :meth:`prepare` would write now (``None``: it does not)."""
        path = osp.join(run.dir, 'config.py')
        if not osp.isfile(path):
            return ConfigChange(run.dir, ('config.py (missing)', ))
        change = config_change(run.dir, Config.fromfile(path),
                               self.config(run))
        return change if change.keys else None

    def launch(self, run: TrialRun) -> None:
        self.launcher.submit(
            run.key, train_command(osp.join(run.dir, 'config.py'), run.dir),
            osp.join(run.dir, 'train.log'), self.timeout, env=self.env())
        run.started = time.time()
        self.running[run.key] = run

    def collect(self) -> List[Tuple[TrialRun, TrialRecord]]:
        """The trials whose process ended, each with its record: COMPLETE
        with the last validation's metrics, PRUNED with those of the rung
        it stopped at, or FAILED with why (timeout, exit code and the end
        of its log, no metrics, non-finite loss)."""
        out = []
        for fin in self.launcher.poll():
            run = self.running.pop(fin.key)
            metrics, error, stopped_at = {}, None, None
            if fin.timed_out:
                error = f'timeout after {self.timeout}s'
            elif fin.returncode != 0:
                error = (f'{fin.reason}; end of train.log:\n'
                         f'{tail(osp.join(run.dir, "train.log"))}')
            else:
                try:
                    metrics = read_metrics(run.dir)
                    pruned = read_metrics_file(run.dir)['pruned']
                    stopped_at = pruned['step'] if pruned else None
                except ValueError as e:
                    error = str(e)
            out.append((run, run.record(fin.wall_time, metrics, error,
                                        self.initialised, stopped_at)))
        return out

    def wait(self, timeout: float) -> None:
        self.launcher.wait(timeout)

    def train(self, runs: List[TrialRun], poll_interval: float = 0.5,
              before: Optional[Callable[[int, int], None]] = None,
              after: Optional[Callable[..., None]] = None
              ) -> Dict[Any, TrialRecord]:
        """Train every run whose folder holds no COMPLETE record made with
        the config it would get now (those are kept: a resume trains
        nothing twice, and never keeps a run of other settings: see
        ``on_changed``), writing each new record; returns ``{run.key:
        record}`` of all. ``before(kept, to_train)`` is called once before
        training, ``after(run, record, done, total, eta_s)`` as each run
        ends."""
        records: Dict[Any, TrialRecord] = {}
        queue, changes = [], []
        for run in runs:
            prev = TrialRecord.read(run.dir)
            change = self.changed(run) if prev and prev.complete else None
            if prev and prev.complete and change is None:
                records[run.key] = prev
            else:
                if change is not None:
                    changes.append(change)
                queue.append(run)
        if changes and self.on_changed == 'refuse':
            raise ChangedRunsError(changes)
        if changes:
            print(f'[runner] {len(changes)} complete run(s) were trained '
                  'under other settings and are trained again:\n  ' +
                  '\n  '.join(c.describe() for c in changes), flush=True)
        for run in queue:
            self.prepare(run)
        if before is not None:
            before(len(records), len(queue))
        total, done, start = len(queue), 0, time.time()
        try:
            while queue or self.running:
                interrupt.check()
                while queue and self.free_slots > 0:
                    self.launch(queue.pop(0))
                for run, record in self.collect():
                    record.write()
                    records[run.key] = record
                    done += 1
                    if after is not None:
                        after(run, record, done, total,
                              (time.time() - start) / done * (total - done))
                self.wait(poll_interval)
        except BaseException as e:
            stopped = interrupt.as_interrupt(e)
            if stopped is None:
                raise
            self.interrupt(str(stopped))
            raise stopped from None
        return records

    def interrupt(self, why: str) -> List[TrialRun]:
        """Kill every running trial and record each INTERRUPTED with ``why``
        (not complete: trained again by the next run); returns them."""
        runs = self.stop()
        for run in runs:
            record = run.record(time.time() - (run.started or time.time()))
            record.interrupted(why)
            record.write()
        return runs

    def stop(self) -> List[TrialRun]:
        """Kill every running trial; returns them."""
        self.launcher.shutdown()
        runs = list(self.running.values())
        self.running.clear()
        return runs

    def env(self) -> Dict[str, str]:
        """The environment of a trial process (threads split between
        concurrent trials)."""
        env = dict(os.environ, PYTHONUNBUFFERED='1', **self.extra_env)
        threads = self.threads or max(
            1, (os.cpu_count() or 1) // max(1, self.launcher.workers))
        env.setdefault('OMP_NUM_THREADS', str(threads))
        return env
