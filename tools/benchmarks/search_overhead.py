"""How much of a search's time is spent outside trial training, and how
admission scales with the size of the study.

    python tools/benchmarks/search_overhead.py [--trials N] [--iters N]
    python tools/benchmarks/search_overhead.py --study-size 100 28000 \
        [--admissions K] [--strategy random|evolution|tpe]

Runs the demo search (its number of trials and proxy iterations unless
``--trials``/``--iters`` say otherwise, on cached features of the generated
data set) with 1 and then 2 local workers, each through ``tools/search.py``,
and reports

    overhead = 1 - sum(trial training time) / (workers x search wall time)

i.e. the share of worker time spent on the driver, config generation,
process start-up (Python, torch and mmseg imports, building the runner),
result collection and idle slots. Training time is what each trial's
``runner.train()`` took (its ``timing.json``).

With ``--study-size``, no trial trains: for each N, a SQLite study is
pre-filled with N finished trials of distinct cells (Optuna's
``add_trials``), then K new trials are asked and admitted through the
search's :class:`~mmseg_dpc.search.ledger.StudyLedger` as a driver does
(ask, decode, cost, duplicate and quota check), each timed, with the
``--strategy``'s sampler (the search config's by default), and the share
of it spent inside the sampler's own methods (the sampler's cost, whoever
wrote it, with the storage reads and ledger calls it makes). The paper
ran 28K trials; admission must not grow with the study.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time
from typing import List, Optional, Tuple

from mmengine.config import Config

import mmseg_dpc
from mmseg_dpc.datasets import generate_synthetic_shapes
from mmseg_dpc.feature_cache import cache_features
from mmseg_dpc.tools.cli import data_root_options, schedule_options

mmseg_dpc.register_all_modules()  # DPCHead & co. in mmseg's registries

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEARCH = 'configs/search/dpc-search_random-30_synthetic-shapes-128x128.py'
DEMO = 'configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py'


def prefilled_study(url: str, name: str, size: int, adapter,
                    space) -> None:
    """A study of ``size`` finished trials of distinct cells, each with the
    user attributes a search gives its trials."""
    import optuna
    from optuna.trial import TrialState
    from sqlalchemy import event
    storage = optuna.storages.RDBStorage(url)
    # writing the fixture only: no fsync per trial (28K commits)
    event.listen(storage.engine, 'connect',
                 lambda conn, _: conn.execute('PRAGMA synchronous=OFF'))
    storage.engine.dispose()
    study = optuna.create_study(study_name=name, storage=storage,
                                direction='maximize')
    dists = adapter.distributions()
    seen, trials = set(), []
    for arch in space.samples(10 * size, seed=1):
        if arch in seen:
            continue
        seen.add(arch)
        trials.append(optuna.trial.create_trial(
            state=TrialState.COMPLETE, value=float(len(trials) % 97),
            params=adapter.params(arch), distributions=dists,
            user_attrs=dict(arch_hash=arch.hash, arch=arch.to_json())))
        if len(trials) == size:
            break
    study.add_trials(trials)


SAMPLER_METHODS = ('infer_relative_search_space', 'sample_relative',
                   'sample_independent', 'before_trial', 'after_trial')


def timed_sampler(sampler, spent: List[float]):
    """``sampler`` with the time of each call of its own methods added to
    ``spent[0]`` (instance attributes: its type and extras stay; a method
    calling another is counted once)."""
    depth = [0]

    def timed(method):
        def call(*args, **kwargs):
            depth[0] += 1
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    spent[0] += time.perf_counter() - start
        return call
    for name in SAMPLER_METHODS:
        setattr(sampler, name, timed(getattr(sampler, name)))
    return sampler


def time_admissions(study_size: int, admissions: int, tmp: str,
                    strategy: Optional[str] = None) -> Tuple[float, float]:
    """Seconds per admission in a study of ``study_size`` trials (with
    ``strategy``'s sampler, else the search config's), median of
    ``admissions``, and the seconds of it in the sampler (the median
    admission's share)."""
    from mmseg_dpc import SEARCH_SPACES
    from mmseg_dpc.search import OptunaSpaceAdapter
    from mmseg_dpc.search.cost import head_cost
    from mmseg_dpc.search.ledger import StudyLedger
    from mmseg_dpc.search.settings import SearchSettings
    from mmseg_dpc.search.strategies import build_sampler
    from optuna.trial import TrialState
    cfg = Config.fromfile(osp.join(REPO, SEARCH))
    cfg.num_trials = study_size + admissions + 1
    if strategy:
        cfg.strategy = dict(type=strategy)
    settings = SearchSettings.from_config(cfg)
    space = SEARCH_SPACES.build(settings.search_space)
    adapter = OptunaSpaceAdapter(space)
    url = f'sqlite:///{tmp}/study_{study_size}.db'
    start = time.time()
    prefilled_study(url, settings.study_name, study_size, adapter, space)
    print(f'study of {study_size} trials written in '
          f'{time.time() - start:.0f}s', flush=True)
    spent = [0.0]
    ledger = StudyLedger(settings, url, timed_sampler(build_sampler(
        settings.strategy, space, settings.seed), spent))
    ledger.start()
    dists = adapter.distributions()
    took, in_sampler = [], []
    try:
        for _ in range(admissions):
            spent[0] = 0.0
            start = time.perf_counter()
            trial = ledger.ask(dists)
            arch = adapter.from_params(trial.params)
            c = head_cost(arch.branches, in_channels=160, channels=256,
                          num_classes=4, feature_size=(8, 8))
            reason = ledger.admit(trial, arch, dict(params=c.params,
                                                    flops=c.flops))
            took.append(time.perf_counter() - start)
            in_sampler.append(spent[0])
            if reason is None:  # as if trained: the study keeps growing
                ledger.finish(trial, TrialState.COMPLETE, [0.0])
    finally:
        ledger.stop()
    median = sorted(range(len(took)), key=took.__getitem__)[len(took) // 2]
    return took[median], in_sampler[median]


def study_size_mode(sizes, admissions: int,
                    strategy: Optional[str] = None) -> None:
    tmp = tempfile.mkdtemp(prefix='search_admission_')
    per = {}
    print('strategy:', strategy or "the search config's")
    for n in sizes:
        per[n], sampler = time_admissions(n, admissions, tmp, strategy)
        print(f'study of {n:6d} trials: admission {per[n] * 1e3:7.1f} ms '
              f'per trial (median of {admissions}), of which '
              f'{sampler * 1e3:7.1f} ms in the sampler', flush=True)
    smallest = per[min(sizes)]
    for n in sizes:
        print(f'N = {n:6d}: {per[n] / smallest:5.2f}x the admission time '
              f'at N = {min(sizes)}  (target <= 2x)')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--trials', type=int, default=None)
    p.add_argument('--iters', type=int, default=None)
    p.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    p.add_argument('--study-size', type=int, nargs='+', default=None,
                   help='time admissions in studies of these sizes instead')
    p.add_argument('--admissions', type=int, default=50)
    p.add_argument('--strategy', choices=['random', 'evolution', 'tpe'],
                   help='the sampler of --study-size (default: the search '
                   'config\'s)')
    a = p.parse_args()
    if a.study_size:
        study_size_mode(a.study_size, a.admissions, a.strategy)
        return
    tmp = tempfile.mkdtemp(prefix='search_overhead_')
    generate_synthetic_shapes(f'{tmp}/data', num_train=64, num_val=16)
    cfg = Config.fromfile(osp.join(REPO, DEMO))
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = f'{tmp}/data'
    for split in ('train', 'val'):
        cache_features(cfg, split, f'{tmp}/cache', levels=[3], device='cpu',
                       progress=False)
    cache = f'{tmp}/cache'
    search = Config.fromfile(osp.join(REPO, SEARCH))
    iters = a.iters or search.proxy_cfg_options.train_cfg.max_iters
    trials = a.trials or search.num_trials
    options = [f'num_trials={trials}', 'rerank=None',
               *schedule_options(iters, 'proxy_cfg_options.'),
               *data_root_options(cache, 'proxy_cfg_options.')]
    print(f'{trials} proxy trials of {iters} iterations, demo settings, '
          f'{os.cpu_count()} CPUs')
    for workers in a.workers:
        wd = f'{tmp}/search_w{workers}'
        start = time.time()
        subprocess.run([sys.executable, 'tools/search.py', SEARCH,
                        '--work-dir', wd, '--workers', str(workers),
                        '--cfg-options', *options], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
        total = time.time() - start
        results = [json.load(open(f)) for f in
                   glob.glob(f'{wd}/trials/*/result.json')]
        train = sum(r.get('train_s', 0.0) for r in results)
        startup = sum(r.get('startup_s', 0.0) for r in results)
        overhead = 1 - train / (workers * total)
        print(f'workers {workers}: wall {total:7.1f}s, trials '
              f'{len(results)}, training {train:7.1f}s, trial start-up '
              f'{startup:6.1f}s ({startup / max(len(results), 1):.1f}s '
              f'each) -> overhead {overhead:6.1%}  (target < 10%)')


if __name__ == '__main__':
    main()
