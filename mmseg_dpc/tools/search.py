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
import os
import sys


def parse_args() -> argparse.Namespace:
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
    # parsed as mmengine's DictAction once mmengine is imported
    p.add_argument('--cfg-options', nargs='+', default=[])
    return p.parse_args()


def start_fork_server() -> None:
    """Start the local launcher's warm fork server first, so it imports
    torch and mmseg while this driver does the same (importing the package
    and its process plumbing imports neither)."""
    from mmseg_dpc.search.processes import start_fork_server
    start_fork_server()


def main() -> int:
    a = parse_args()
    if a.launcher == 'local':
        start_fork_server()
    import os.path as osp

    from mmengine.config import DictAction

    import mmseg_dpc
    mmseg_dpc.register_all_modules()  # DPCHead & co. in mmseg's registries
    from mmseg_dpc.tools.cli import load_config_file
    from mmseg_dpc.utils.third_party_log import third_party_log
    options = {}
    if a.cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        options = parser.parse_args(['--o', *a.cfg_options]).o
    cfg = load_config_file(a.config)
    cfg.merge_from_dict(options)
    work_dir = a.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(a.config))[0])
    with third_party_log(osp.join(work_dir, 'third_party.log')) as log:
        code = run(cfg, work_dir, a)
    if log.summary():
        print(f'[search] {log.summary()}', flush=True)
    return code


def run(cfg, work_dir: str, a: argparse.Namespace) -> int:
    """Build the driver and run the search; the exit code (128 + the
    signal's number after Ctrl-C or SIGTERM, as a shell reports it)."""
    from mmseg_dpc.search import interrupt
    from mmseg_dpc.search.driver import SearchDriver, SearchStopped
    from mmseg_dpc.search.fingerprint import ChangedRunsError
    interrupt.install()
    try:
        driver = SearchDriver(cfg, work_dir, workers=a.workers,
                              launcher=a.launcher, storage=a.storage,
                              ray_address=a.ray_address, resume=a.resume)
    except (ValueError, KeyError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    try:
        driver.run()
    except ChangedRunsError as e:  # rerank.on_changed='refuse'
        print(f'error: {e}', file=sys.stderr)
        return 2
    except SearchStopped as e:
        print(f'error: {e}', file=sys.stderr)
        return 3
    except interrupt.SearchInterrupted as e:
        return e.exit_code
    return 0


def cli() -> None:
    """The command: :func:`main`, then exit at once. Everything is written
    and every trial has ended; this skips the seconds of interpreter
    teardown that torch and the fork server cost."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == '__main__':
    cli()
