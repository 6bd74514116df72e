"""How much of a search's time is spent outside trial training.

    python tools/benchmarks/search_overhead.py [--trials N] [--iters N]

Runs the demo search (its number of trials and proxy iterations unless
``--trials``/``--iters`` say otherwise, on cached features of the generated
data set) with 1 and then 2 local workers, each through ``tools/search.py``,
and reports

    overhead = 1 - sum(trial training time) / (workers x search wall time)

i.e. the share of worker time spent on the driver, config generation,
process start-up (Python, torch and mmseg imports, building the runner),
result collection and idle slots. Training time is what each trial's
``runner.train()`` took (its ``timing.json``).
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

from mmengine.config import Config

import mmseg_dpc  # noqa: F401
from mmseg_dpc.datasets import generate_synthetic_shapes
from mmseg_dpc.proxy import cache_features

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEARCH = 'configs/search/dpc-search_random-30_synthetic-shapes-128x128.py'
DEMO = 'configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py'


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--trials', type=int, default=None)
    p.add_argument('--iters', type=int, default=None)
    p.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    a = p.parse_args()
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
    options = [
        f'num_trials={trials}', 'rerank=None',
        f'proxy_cfg_options.train_cfg.max_iters={iters}',
        f'proxy_cfg_options.train_cfg.val_interval={iters}',
        f'proxy_cfg_options.param_scheduler.0.end={iters}',
        f'proxy_cfg_options.default_hooks.checkpoint.interval={iters}',
        f'proxy_cfg_options.train_dataloader.dataset.data_root={cache}',
        f'proxy_cfg_options.val_dataloader.dataset.data_root={cache}',
        f'proxy_cfg_options.test_dataloader.dataset.data_root={cache}',
    ]
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
