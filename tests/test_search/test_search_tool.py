"""tools/search.py with real processes on small generated data."""
import json
import os
import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

from mmseg_dpc.search import Architecture

from ..conftest import REPO, run_tool
from ..test_tools.test_train_test import runs

BASE = f'{REPO}/configs/search/dpc-search_random-30_synthetic-shapes-128x128.py'


def search_config(tmp_path, cache, shapes_root, name='search.py', **extra):
    """A small search: 2-branch space, 8-iteration proxy trials."""
    lines = [
        f'_base_ = [{BASE!r}]',
        'search_space = dict(num_branches=2, rates=(1, 3), grids=(1, 2))',
        'proxy_cfg_options = dict(',
        '    train_cfg=dict(max_iters=8, val_interval=8),',
        '    param_scheduler=[dict(type="PolyLR", eta_min=0.0, power=0.9,',
        '                          begin=0, end=8, by_epoch=False)],',
        '    default_hooks=dict(checkpoint=dict(interval=8),',
        '                       logger=dict(interval=4)),',
        '    train_dataloader=dict(batch_size=4,',
        f'                          dataset=dict(data_root={cache!r})),',
        f'    val_dataloader=dict(dataset=dict(data_root={cache!r})),',
        f'    test_dataloader=dict(dataset=dict(data_root={cache!r})))',
        'heartbeat = dict(interval=1, grace_period=3)',
        'poll_interval = 0.2',
        'num_trials = 6',
        'rerank = None',
    ]
    lines += [f'{k} = {v!r}' for k, v in extra.items()]
    path = tmp_path / name
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def rerank_options(shapes_root, top_k, iters):
    """A ``rerank`` dict: the top ``top_k`` trained ``iters`` iterations on
    the generated data."""
    return dict(top_k=top_k, cfg_options=dict(
        train_cfg=dict(max_iters=iters, val_interval=iters),
        default_hooks=dict(checkpoint=dict(interval=iters)),
        train_dataloader=dict(batch_size=4,
                              dataset=dict(data_root=shapes_root)),
        val_dataloader=dict(dataset=dict(data_root=shapes_root)),
        test_dataloader=dict(dataset=dict(data_root=shapes_root))))


def run_two_drivers(cfg, tmp_path, storage):
    """Two drivers of ``cfg`` at once on one ``storage`` (each its own work
    dir and sampler seed); both must succeed and both must start trials."""
    drivers = [
        subprocess.Popen(
            [sys.executable, 'tools/search.py', cfg, '--work-dir',
             str(tmp_path / f'driver{i}'), '--storage', storage,
             '--cfg-options', f'strategy.seed={i}'], cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(2)
    ]
    outs = [d.communicate(timeout=600)[0] for d in drivers]
    assert [d.returncode for d in drivers] == [0, 0], outs
    assert all('started' in o for o in outs), 'one driver did no work'


def load(work_dir, storage=None, name='dpc-search_synthetic-shapes'):
    storage = storage or f'sqlite:///{work_dir}/study.db'
    return optuna.load_study(study_name=name, storage=storage)


def trained(study):
    return [t for t in study.get_trials()
            if 'skipped' not in t.user_attrs
            and t.state in (TrialState.COMPLETE, TrialState.FAIL)]


def complete(study):
    return [t for t in trained(study) if t.state == TrialState.COMPLETE]


def assert_exact_and_distinct(study, n):
    done = complete(study)
    assert len(done) == n
    archs = [Architecture.from_json(t.user_attrs['arch']) for t in done]
    assert len(set(archs)) == n, 'an architecture was trained twice'


def test_six_trials_two_workers_and_rerank(tmp_path, feature_cache,
                                           shapes_root):
    cfg = search_config(tmp_path, feature_cache, shapes_root,
                        rerank=rerank_options(shapes_root, 3, 6))
    wd = tmp_path / 'work'
    proc = run_tool('tools/search.py', cfg, '--work-dir', str(wd),
                    '--workers', '2')
    assert '6/6 done' in proc.stdout
    study = load(wd)
    assert_exact_and_distinct(study, 6)
    board = json.loads((wd / 'leaderboard.json').read_text())
    assert [r['status'] for r in board] == ['COMPLETE'] * 6
    assert [r['rank'] for r in board] == list(range(1, 7))
    mious = [r['mIoU'] for r in board]
    assert mious == sorted(mious, reverse=True)
    csv_lines = (wd / 'leaderboard.csv').read_text().splitlines()
    assert len(csv_lines) == 7 and csv_lines[0].startswith('rank,trial')
    for r in board:
        with open(os.path.join(r['trial_dir'], 'result.json')) as f:
            res = json.load(f)
        assert res['status'] == 'COMPLETE'
        assert res['metrics']['mIoU'] == r['mIoU']
        assert res['params'] > 0 and res['flops'] > 0
        assert res['wall_time'] > 0 and res['error'] is None
        assert os.path.basename(r['trial_dir']).endswith(r['arch_hash'])
    # re-ranking: the top 3 trained on the full task, with correlations
    rerank = json.loads((wd / 'rerank.json').read_text())
    assert rerank['n'] == 3
    assert [r['trial'] for r in rerank['trials']] == \
        [r['trial'] for r in board[:3]]
    assert all(r['full_mIoU'] is not None for r in rerank['trials'])
    # each re-ranked model's head cost, on the full task's 128x128 input
    from mmengine.config import Config

    from mmseg_dpc.search.cost import model_head_cost
    full = Config.fromfile(f'{REPO}/configs/dpc/dpc_mobilenet-v2-d16_'
                           '1xb8-300_synthetic-shapes-128x128.py')
    for r in rerank['trials']:
        arch = Architecture.from_json(next(
            b['arch'] for b in board if b['trial'] == r['trial']))
        expected = model_head_cost(full, (128, 128))(arch.branches)
        assert (r['head_params'], r['head_flops']) == (
            expected['params'], expected['flops'])
        assert expected['flops'] > next(
            b['flops'] for b in board if b['trial'] == r['trial'])
    for key in ('spearman', 'kendall'):
        assert key in rerank
        assert rerank[key] is None or -1 <= rerank[key] <= 1
    summary = json.loads((wd / 'summary.json').read_text())
    assert summary['complete'] == 6 and summary['rerank']['n'] == 3

    # one trial's config, re-run alone, reproduces its metric
    best = board[0]
    rerun = tmp_path / 'rerun'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    subprocess.run([sys.executable, 'tools/train.py',
                    os.path.join(best['trial_dir'], 'config.py'),
                    '--work-dir', str(rerun)], cwd=REPO, env=env,
                   check=True, capture_output=True)
    val = [r for r in runs(rerun)[-1] if 'mIoU' in r]
    assert val[-1]['mIoU'] == best['mIoU']

    # the same command again: the study is complete, nothing is retrained
    again = run_tool('tools/search.py', cfg, '--work-dir', str(wd),
                     '--workers', '2', '--resume')
    assert 'started' not in again.stdout
    assert len(trained(load(wd))) == 6


CRASH_HOOK = '''
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class CrashOnTrial(Hook):
    """Test aid: crash the trial whose directory starts with NUMBER-."""

    def __init__(self, number):
        self.prefix = f'{number:04d}-'

    def before_train(self, runner):
        import os
        if os.path.basename(runner.work_dir).startswith(self.prefix):
            raise RuntimeError('injected crash for the test')
'''


def test_crashing_trial_is_failed_and_search_completes(
        tmp_path, feature_cache, shapes_root, monkeypatch):
    (tmp_path / 'crashy.py').write_text(CRASH_HOOK)
    monkeypatch.setenv('PYTHONPATH', str(tmp_path) + os.pathsep +
                       os.environ.get('PYTHONPATH', ''))
    cfg = search_config(tmp_path, feature_cache, shapes_root,
                        num_trials=3, max_retries=0)
    with open(cfg, 'a') as f:
        f.write('proxy_cfg_options.update(\n'
                '    custom_imports=dict(imports=["mmseg_dpc", "crashy"],\n'
                '                        allow_failed_imports=False),\n'
                '    custom_hooks=[dict(type="CrashOnTrial", number=1)])\n')
    wd = tmp_path / 'work'
    proc = run_tool('tools/search.py', cfg, '--work-dir', str(wd),
                    '--workers', '2')
    assert 'trial 1' in proc.stdout and 'FAILED' in proc.stdout
    study = load(wd)
    assert len(complete(study)) == 3
    failed = [t for t in trained(study) if t.state == TrialState.FAIL]
    assert [t.number for t in failed] == [1]
    assert 'injected crash for the test' in failed[0].user_attrs['error']
    board = json.loads((wd / 'leaderboard.json').read_text())
    assert board[-1]['status'] == 'FAILED' and board[-1]['trial'] == 1
    assert 'injected crash' in board[-1]['error']
    res = json.loads(open(os.path.join(board[-1]['trial_dir'],
                                       'result.json')).read())
    assert res['status'] == 'FAILED' and 'exit code 1' in res['error']


@pytest.mark.processes
def test_search_on_a_local_ray_runtime(tmp_path, feature_cache,
                                       shapes_root):
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trials=3)
    wd = tmp_path / 'work'
    proc = run_tool('tools/search.py', cfg, '--work-dir', str(wd),
                    '--launcher', 'ray', '--workers', '2')
    assert '3/3 done' in proc.stdout
    assert_exact_and_distinct(load(wd), 3)
    board = json.loads((wd / 'leaderboard.json').read_text())
    assert len(board) == 3 and all(r['status'] == 'COMPLETE' for r in board)


@pytest.mark.processes
@pytest.mark.parametrize('backend', ['postgresql', 'sqlite'])
def test_two_drivers_share_a_study(tmp_path, feature_cache, shapes_root,
                                   backend, request):
    postgres_url = (request.getfixturevalue('postgres_url')
                    if backend == 'postgresql' else
                    f'sqlite:///{tmp_path / "shared.db"}')
    # a small space (10 cells of 1 branch) makes collisions likely
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trials=6)
    with open(cfg, 'a') as f:
        f.write('search_space = dict(num_branches=1, '
                'ops=("conv1x1", "pyramid_pooling"), grids=(1, 2, 4))\n')
    run_two_drivers(cfg, tmp_path, postgres_url)
    study = load(None, storage=postgres_url)
    assert_exact_and_distinct(study, 6)
    # every trained trial's directory exists in the work dir of its driver
    dirs = [t.user_attrs['trial_dir'] for t in complete(study)]
    assert all(os.path.isdir(d) for d in dirs)


@pytest.mark.processes
def test_dead_drivers_trials_are_failed_and_retried(tmp_path, feature_cache,
                                                   shapes_root):
    """A study holding a trial of a driver that died after its heartbeat
    (stale) and one of a driver that died inside ask() (no heartbeat, no
    architecture): the next driver fails both, retries the first, and ends
    with exactly num_trials complete."""
    from optuna.storages import RDBStorage

    from mmseg_dpc import SEARCH_SPACES
    from mmseg_dpc.search import OptunaSpaceAdapter
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trials=2)
    wd = tmp_path / 'work'
    wd.mkdir()
    storage = RDBStorage(f'sqlite:///{wd}/study.db', heartbeat_interval=1,
                         grace_period=3)
    study = optuna.create_study(study_name='dpc-search_synthetic-shapes',
                                storage=storage)
    adapter = OptunaSpaceAdapter(SEARCH_SPACES.build(dict(
        type='DPCSearchSpace', num_branches=2, rates=(1, 3), grids=(1, 2))))
    stale = study.ask(adapter.distributions())
    arch = adapter.from_params(stale.params)
    stale.set_user_attr('arch_hash', arch.hash)
    stale.set_user_attr('arch', arch.to_json())
    storage.record_heartbeat(stale._trial_id)
    orphan = study.ask()  # died inside ask(): no params, no heartbeat

    run_tool('tools/search.py', cfg, '--work-dir', str(wd), '--workers', '2')
    study = load(wd)
    assert_exact_and_distinct(study, 2)
    by_number = {t.number: t for t in study.get_trials()}
    assert by_number[stale.number].state == TrialState.FAIL
    assert by_number[orphan.number].state == TrialState.FAIL
    assert 'orphaned' in by_number[orphan.number].user_attrs['skipped']
    retried = [t for t in complete(study)
               if t.system_attrs.get('failed_trial') == stale.number]
    assert len(retried) == 1
    assert retried[0].user_attrs['arch_hash'] == arch.hash


@pytest.mark.parametrize('change, match', [
    (dict(strategy=dict(type='annealing')), 'strategy.type must be one of'),
    (dict(strategy=dict(type='random', population=3)),
     "unknown keys \\['population'\\]"),
    (dict(strategy=dict(type='tpe', n_startup=3)), "strategy 'tpe'"),
    (dict(objectives=[dict(name='latency', direction='minimize')]),
     'name must be one of'),
    (dict(objectives=[dict(name='mIoU', direction='up')]),
     'direction must be'),
])
def test_bad_search_configs_are_named(tmp_path, feature_cache, shapes_root,
                                      change, match):
    from mmengine.config import Config

    from mmseg_dpc.search.driver import SearchDriver
    cfg = Config.fromfile(search_config(tmp_path, feature_cache,
                                        shapes_root))
    for k, v in change.items():
        cfg[k] = v
    with pytest.raises(ValueError, match=match):
        SearchDriver(cfg, str(tmp_path / 'work'))


def test_search_config_missing_key_and_missing_cache(tmp_path,
                                                     feature_cache,
                                                     shapes_root):
    from mmengine.config import Config

    from mmseg_dpc.search.driver import SearchDriver
    cfg = Config.fromfile(search_config(tmp_path, feature_cache,
                                        shapes_root))
    cfg = Config({k: v for k, v in cfg.to_dict().items()
                  if k != 'proxy_config'})
    with pytest.raises(ValueError, match="lacks \\['proxy_config'\\]"):
        SearchDriver(cfg, str(tmp_path / 'a'))
    cfg = Config.fromfile(search_config(tmp_path, str(tmp_path / 'nocache'),
                                        shapes_root))
    with pytest.raises(ValueError, match='cache_features.py'):
        SearchDriver(cfg, str(tmp_path / 'b'))
