"""The package works installed as a wheel, from any directory: the wheel is
built from the clone, installed (no dependencies) into a virtual
environment outside it, and its console scripts run the demo's ``--quick``
and a two-trial search with re-ranking where the clone is not importable."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import sysconfig

from mmseg_dpc.tools.cli import data_root_options, schedule_options

from .conftest import REPO

SEARCH = 'mmseg_dpc::search/dpc-search_random-16_synthetic-shapes-192x192.py'
# the clone's build byproducts, never part of a fresh build
NOT_SOURCES = shutil.ignore_patterns('.venv', '.git', 'work_dirs', 'data',
                                     'build', 'dist', '*.egg-info',
                                     '__pycache__', '.pytest_cache')


def build_wheel(tmp_path) -> str:
    """The wheel of a copy of the clone (a stale ``build/`` of the clone
    could add modules it no longer has)."""
    src = tmp_path / 'src'
    shutil.copytree(REPO, src, symlinks=True, ignore=NOT_SOURCES)
    out = tmp_path / 'wheel'
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    '--no-build-isolation', '--no-index', str(src), '-w',
                    str(out)], check=True, cwd=tmp_path)
    (wheel, ) = os.listdir(out)
    return str(out / wheel)


def install(wheel: str, tmp_path) -> str:
    """A virtual environment with the wheel alone; the test's own
    environment lends it the dependencies as a plain path (its ``.pth``
    files, the clone's editable install among them, are not read)."""
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    python = str(venv / 'bin' / 'python')
    site = subprocess.run([python, '-c', 'import sysconfig; print('
                           'sysconfig.get_paths()["purelib"])'],
                          check=True, capture_output=True,
                          text=True).stdout.strip()
    with open(osp.join(site, 'dependencies.pth'), 'w') as f:
        f.write(sysconfig.get_paths()['purelib'] + '\n')
    subprocess.run([python, '-m', 'pip', 'install', '-q', '--no-deps',
                    '--no-index', wheel], check=True)
    return str(venv / 'bin')


def run(bin_dir: str, args, cwd) -> str:
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(PATH=bin_dir + os.pathsep + env.get('PATH', ''),
               OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=1500)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def test_the_wheel_runs_the_demo_and_a_search_outside_the_clone(tmp_path):
    bin_dir = install(build_wheel(tmp_path), tmp_path)
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    where = run(bin_dir, ['python', '-c', 'import mmseg_dpc, os; print('
                          'mmseg_dpc.__file__); print(os.getcwd())'],
                elsewhere).split()
    assert where[0].startswith(str(tmp_path / 'venv'))  # not the clone's
    assert not where[1].startswith(REPO)
    shipped = osp.join(osp.dirname(where[0]), '.mim', 'configs')
    assert osp.isfile(osp.join(shipped, 'search', osp.basename(SEARCH)))
    assert not osp.islink(shipped)  # a copy, not the clone's link

    # a user's config on a shipped base, named as mmengine names packages'
    (elsewhere / 'mine.py').write_text(
        "_base_ = ['mmseg_dpc::dpc/dpc_mobilenet-v2-d8_1xb4-300_synthetic-"
        "shapes-192x192.py']\nmodel = dict(decode_head=dict(channels=64))\n")
    out = run(bin_dir, ['mmseg-dpc-flops', 'mine.py'], elsewhere)
    assert 'input 192x192' in out and 'decode_head' in out

    demo = elsewhere / 'demo'
    out = run(bin_dir, ['mmseg-dpc-demo', '--quick', '--work-dir',
                        str(demo)], elsewhere)
    assert '[demo] finished in' in out
    with open(demo / 'demo_result.json') as f:
        result = json.load(f)
    assert osp.isfile(result['report'])
    assert len(result['verdicts']['seeds']) == 2

    # a two-trial search with re-ranking on the demo's cache and backbone,
    # its config named as a shipped one
    ckpt = str(demo / 'backbone' / 'iter_10.pth')
    options = [
        'num_trials=2', 'rerank.top_k=2', 'verdict=None',
        f'rerank.init_from={ckpt}',
        f'proxy_cfg_options.feature_checkpoint={ckpt}',
        *schedule_options(6, 'proxy_cfg_options.'),
        *data_root_options(str(demo / 'feature_cache'), 'proxy_cfg_options.'),
        *[f'rerank.cfg_options.{o}' for o in schedule_options(4) +
          data_root_options(str(demo / 'data'))]]
    search = elsewhere / 'search'
    run(bin_dir, ['mmseg-dpc-search', SEARCH, '--work-dir', str(search),
                  '--cfg-options', *options], elsewhere)
    with open(search / 'leaderboard.json') as f:
        board = json.load(f)
    assert [r['status'] for r in board] == ['COMPLETE', 'COMPLETE']
    with open(search / 'rerank.json') as f:
        rerank = json.load(f)
    assert rerank['n'] == 2
    assert all(r['full_mIoU'] is not None for r in rerank['trials'])
    for trial in os.listdir(search / 'trials'):
        with open(search / 'trials' / trial / 'config.py') as f:
            config = f.read()
        assert REPO not in config  # nothing of the clone
