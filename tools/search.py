"""Search the DPC space on the proxy task, then re-rank the best.

    python tools/search.py configs/search/SEARCH.py [--work-dir D]
        [--workers N] [--launcher local|ray] [--ray-address ADDR]
        [--storage URL] [--resume] [--cfg-options k=v ...]

Each sampled architecture becomes WORK_DIR/trials/<number>-<archhash>/
config.py, trained in its own process; results go to leaderboard.csv/.json
and summary.json in the work dir. Running the same command again continues
the study. With --storage postgresql://..., drivers on many machines share
one study.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config, DictAction

import mmseg_dpc  # noqa: F401
from mmseg_dpc.search.driver import SearchDriver


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', help='search config')
    p.add_argument('--work-dir', help='default: work_dirs/<config name>')
    p.add_argument('--workers', type=int, default=None,
                   help='concurrent trials (local default 1; ray default: '
                   'as the cluster allows)')
    p.add_argument('--launcher', choices=['local', 'ray'], default='local')
    p.add_argument('--ray-address', help='Ray cluster address (default: a '
                   'local Ray runtime)')
    p.add_argument('--storage', help='Optuna storage URL (default: SQLite '
                   'in the work dir)')
    p.add_argument('--resume', action='store_true',
                   help='continue an existing study (error if none); '
                   'without it an existing study is continued too')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    a = p.parse_args()
    try:
        cfg = Config.fromfile(a.config)
    except Exception as e:
        sys.exit(f'error: cannot load search config {a.config}: {e}')
    if a.cfg_options:
        cfg.merge_from_dict(a.cfg_options)
    work_dir = a.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(a.config))[0])
    workers = a.workers or (1 if a.launcher == 'local' else None)
    try:
        driver = SearchDriver(cfg, work_dir, workers=workers,
                              launcher=a.launcher, storage=a.storage,
                              ray_address=a.ray_address, resume=a.resume)
    except (ValueError, KeyError) as e:
        sys.exit(f'error: {e}')
    driver.run()


if __name__ == '__main__':
    main()
