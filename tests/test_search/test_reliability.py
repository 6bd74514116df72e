"""The search under its own timing, kills, failing trials and bad settings
(real processes on small generated data)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import optuna
import pytest
from mmengine.config import Config
from optuna.trial import TrialState

from ..conftest import REPO, run_tool
from .test_search_tool import (assert_exact_and_distinct, complete, load,
                               rerank_options, search_config, trained)

HOOKS = '''
import os
import os.path as osp

from mmengine.hooks import Hook
from mmseg.registry import HOOKS


def _number(runner):
    return int(osp.basename(runner.work_dir).split('-')[0])


@HOOKS.register_module()
class CrashFrom(Hook):
    """Test aid: crash every trial numbered NUMBER or later."""

    def __init__(self, number):
        self.number = number

    def before_train(self, runner):
        if _number(runner) >= self.number:
            raise RuntimeError('injected crash for the test')


@HOOKS.register_module()
class HoldFrom(Hook):
    """Test aid: trials numbered NUMBER or later wait before training for
    as long as the file HOLD exists."""

    def __init__(self, number, hold):
        self.number = number
        self.hold = hold

    def before_train(self, runner):
        import time
        while _number(runner) >= self.number and osp.exists(self.hold):
            time.sleep(0.1)


@HOOKS.register_module()
class NoLearning(Hook):
    """Test aid: odd-numbered trials train with a learning rate of 0 (their
    head stays as initialised: a cell the pruner should stop)."""

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if _number(runner) % 2:
            for group in runner.optim_wrapper.optimizer.param_groups:
                group['lr'] = 0.0


@HOOKS.register_module()
class HoldAt(Hook):
    """Test aid: trials numbered NUMBER or later wait before iteration
    ITER for as long as the file HOLD exists."""

    def __init__(self, number, iter, hold):
        self.number, self.iter, self.hold = number, iter, hold

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        import time
        number = _number(runner)
        if number < self.number or runner.iter != self.iter:
            return
        if osp.exists(self.hold):  # tell the test who waits
            open(f'{self.hold}.{number}', 'w').close()
        while osp.exists(self.hold):
            time.sleep(0.1)


@HOOKS.register_module()
class FailedByAnotherDriver(Hook):
    """Test aid: trial NUMBER is failed in the study while it trains, as
    another driver does with a trial it takes for stale."""

    def __init__(self, number, study_name):
        self.number = number
        self.study_name = study_name

    def before_train(self, runner):
        if _number(runner) != self.number:
            return
        import optuna
        from optuna.trial import TrialState
        db = osp.join(osp.dirname(osp.dirname(runner.work_dir)), 'study.db')
        storage = optuna.storages.RDBStorage(f'sqlite:///{db}')
        study = optuna.load_study(study_name=self.study_name,
                                  storage=storage)
        trial = next(t for t in study.get_trials()
                     if t.number == self.number)
        storage.set_trial_user_attr(trial._trial_id, 'error',
                                    'failed by another driver (test)')
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
'''
STUDY = 'dpc-search_synthetic-shapes'


def with_hook(cfg_path, tmp_path, monkeypatch, *hooks):
    (tmp_path / 'test_hooks.py').write_text(HOOKS)
    monkeypatch.setenv('PYTHONPATH', str(tmp_path) + os.pathsep +
                       os.environ.get('PYTHONPATH', ''))
    with open(cfg_path, 'a') as f:
        f.write('proxy_cfg_options.update(\n'
                '    custom_imports=dict(imports=["mmseg_dpc", "test_hooks"],\n'
                '                        allow_failed_imports=False),\n'
                f'    custom_hooks={list(hooks)!r})\n')
    return cfg_path


def search(*args, timeout=600):
    """tools/search.py; returns the finished process (any exit code)."""
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    return subprocess.run([sys.executable, 'tools/search.py', *args],
                          cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


# --- 1. heartbeats do not depend on how long the driver's loop blocks ----
@pytest.mark.processes
def test_a_busy_driver_keeps_its_trials_alive(tmp_path, feature_cache,
                                              shapes_root, monkeypatch):
    """Writing each trial's config takes longer than the grace period (3 s):
    the driver's own trials must not be failed as stale (they were, and the
    driver then crashed on telling their outcome)."""
    from mmseg_dpc.search import driver as driver_module
    from mmseg_dpc.search import runner as runner_module
    cfg = Config.fromfile(search_config(tmp_path, feature_cache,
                                        shapes_root, num_trials=3))
    write = runner_module.write_trial_config

    def slow_write(*args, **kwargs):
        time.sleep(4.5)
        return write(*args, **kwargs)

    monkeypatch.setattr(runner_module, 'write_trial_config', slow_write)
    wd = tmp_path / 'work'
    driver_module.SearchDriver(cfg, str(wd), workers=2).run()
    study = load(wd)
    assert_exact_and_distinct(study, 3)
    assert [t.number for t in study.get_trials()
            if t.state == TrialState.FAIL] == []


@pytest.mark.processes
def test_a_trial_failed_elsewhere_is_recorded_and_the_driver_goes_on(
        tmp_path, feature_cache, shapes_root, monkeypatch):
    """A trial the study fails while it trains (another driver took it for
    stale): its outcome is the study's, its result.json says so, and the
    driver finishes the search instead of crashing."""
    cfg = with_hook(
        search_config(tmp_path, feature_cache, shapes_root, num_trials=3),
        tmp_path, monkeypatch,
        dict(type='FailedByAnotherDriver', number=1, study_name=STUDY))
    wd = tmp_path / 'work'
    proc = search(cfg, '--work-dir', str(wd), '--workers', '2')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    study = load(wd)
    assert_exact_and_distinct(study, 3)
    failed = {t.number: t for t in study.get_trials()
              if t.state == TrialState.FAIL}
    assert list(failed) == [1]
    assert 'another driver (test)' in failed[1].user_attrs['error']
    result = json.loads(open(os.path.join(
        failed[1].user_attrs['trial_dir'], 'result.json')).read())
    assert result['status'] == 'FAILED'  # as the study says
    assert 'another driver (test)' in result['error']
    assert 'not recorded' in result['error']


# --- 2. a SIGKILLed driver leaves no trial process ------------------------
def _children() -> dict:
    out = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open(f'/proc/{name}/stat') as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            out.setdefault(ppid, []).append(int(name))
    return out


def descendants(pid: int) -> list:
    children, todo, found = _children(), [pid], []
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError):
        return False


def _phase_reached(phase, wd) -> bool:
    if phase == 'startup':
        return any((wd / 'trials').glob('*/config.py')) \
            if (wd / 'trials').exists() else False
    if phase == 'rerank':
        return any((wd / 'rerank').glob('*/train.log')) \
            if (wd / 'rerank').exists() else False
    if not (wd / 'study.db').exists():
        return False
    try:
        trials = load(wd).get_trials()
    except Exception:  # the study is not created yet
        return False
    return (sum(t.state == TrialState.COMPLETE for t in trials) >= 2
            and any(t.state == TrialState.RUNNING
                    and 'trial_dir' in t.user_attrs for t in trials))


@pytest.mark.processes
@pytest.mark.parametrize('phase', ['startup', 'trials', 'rerank'])
def test_killed_driver_leaves_no_trial_and_resumes(tmp_path, feature_cache,
                                                   shapes_root, phase,
                                                   monkeypatch):
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trials=4,
                        rerank=rerank_options(shapes_root, 2, 30))
    hold = tmp_path / 'hold'
    if phase == 'trials':  # trials 2 and 3 are surely running at the kill
        hold.touch()
        with_hook(cfg, tmp_path, monkeypatch,
                  dict(type='HoldFrom', number=2, hold=str(hold)))
    wd = tmp_path / 'work'
    driver = subprocess.Popen(
        [sys.executable, 'tools/search.py', cfg, '--work-dir', str(wd),
         '--workers', '2'], cwd=REPO, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not _phase_reached(phase, wd):
        assert driver.poll() is None, 'the search ended before the kill'
        time.sleep(0.2)
    assert _phase_reached(phase, wd), f'the search never reached {phase}'
    started = descendants(driver.pid)
    done_before = complete(load(wd)) if phase != 'startup' else []
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert started, 'the driver had started no process'
    # they end within a second on an idle machine; a deadline, not a fixed
    # wait, so that a loaded machine's scheduling cannot fail the test
    deadline = time.time() + 60
    while time.time() < deadline and any(alive(p) for p in started):
        time.sleep(0.2)
    left = [p for p in started if alive(p)]
    assert left == [], f'processes of the killed driver still run: {left}'

    hold.unlink(missing_ok=True)
    run_tool('tools/search.py', cfg, '--work-dir', str(wd), '--workers', '2')
    study = load(wd)
    assert_exact_and_distinct(study, 4)  # none trained twice to the end
    assert {t.number for t in done_before} <= \
        {t.number for t in complete(study)}  # nothing complete lost
    failed = study.get_trials(states=(TrialState.FAIL, ))
    for t in failed:
        assert t.user_attrs.get('error') or t.user_attrs.get('skipped'), \
            f'trial {t.number} failed without a reason'
        if os.path.isdir(t.user_attrs.get('trial_dir', '')):
            result = json.loads(open(os.path.join(
                t.user_attrs['trial_dir'], 'result.json')).read())
            assert result['status'] == 'FAILED' and result['error']
    if phase == 'trials':
        assert failed, 'the trials running at the kill were not failed'
    retried = [t for t in study.get_trials()
               if t.system_attrs.get('failed_trial') is not None]
    assert {t.system_attrs['failed_trial'] for t in retried} <= \
        {t.number for t in failed}
    report = json.loads((wd / 'rerank.json').read_text())
    assert report['n'] == 2
    assert all(r['status'] == 'COMPLETE' for r in report['trials'])
    assert len(list((wd / 'rerank').iterdir())) == 2


# --- 3. a search whose trials keep failing stops ---------------------------
def test_failing_trials_stop_the_search_within_budget(
        tmp_path, feature_cache, shapes_root, monkeypatch):
    cfg = with_hook(
        search_config(tmp_path, feature_cache, shapes_root, num_trials=8,
                      max_retries=0,
                      failure_budget=dict(consecutive=3, fraction=0.5)),
        tmp_path, monkeypatch, dict(type='CrashFrom', number=2))
    wd = tmp_path / 'work'
    start = time.time()
    proc = search(cfg, '--work-dir', str(wd), '--workers', '2', timeout=300)
    took = time.time() - start
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'search stopped: the last 3 trials failed' in proc.stderr
    assert 'failure_budget.consecutive=3' in proc.stderr
    assert 'injected crash for the test' in proc.stderr
    assert took < 120, f'the failing search ran {took:.0f}s'
    study = load(wd)
    assert {t.number for t in complete(study)} == {0, 1}  # kept
    failed = [t for t in trained(study) if t.state == TrialState.FAIL]
    assert 3 <= len(failed) <= 3 + 2  # the budget, and what was in flight
    assert all(t.user_attrs.get('error') for t in failed)
    board = json.loads((wd / 'leaderboard.json').read_text())
    assert [r['trial'] for r in board if r['status'] == 'COMPLETE'] != []


def test_an_unusable_cache_stops_the_search_before_any_trial(
        tmp_path, feature_cache, shapes_root):
    from mmseg_dpc.feature_cache import CacheError
    from mmseg_dpc.search.driver import SearchDriver
    cache = tmp_path / 'cache'
    shutil.copytree(feature_cache, cache)
    shard = sorted((cache / 'val').glob('shard_*.feat0.npy'))[-1]
    with open(shard, 'r+b') as f:  # truncated
        f.truncate(os.path.getsize(shard) // 2)
    cfg = Config.fromfile(search_config(tmp_path, str(cache), shapes_root))
    wd = tmp_path / 'work'
    with pytest.raises(CacheError, match=f'{shard.name} is corrupt'):
        SearchDriver(cfg, str(wd))
    cfg = Config.fromfile(search_config(tmp_path, feature_cache,
                                        shapes_root))
    cfg.proxy_cfg_options.model = dict(decode_head=dict(in_channels=320))
    with pytest.raises(CacheError, match='in_channels is 320, but the '
                       'feature cache .* holds 160-channel features'):
        SearchDriver(cfg, str(wd))
    assert not wd.exists()


# --- 5. settings checked before anything is created ------------------------
@pytest.mark.parametrize('key, value, match', [
    ('trial_timeout', 'ten', 'trial_timeout must be a number'),
    ('trial_timeout', -5, 'trial_timeout must be > 0'),
    ('constraints', dict(max_params='big'), 'constraints.max_params must be'),
    ('constraints', dict(max_latency=3), "unknown keys \\['max_latency'\\]"),
    ('num_trials', 0, 'num_trials must be >= 1'),
    ('num_trials', 2.5, 'num_trials must be an integer'),
    ('max_retries', -1, 'max_retries must be >= 0'),
    ('heartbeat', dict(interval=5, grace_period=5),
     'grace_period \\(5\\) must be longer'),
    ('failure_budget', dict(fraction=2), 'failure_budget.fraction'),
    ('poll_interval', 0, 'poll_interval must be > 0'),
    ('rerank', dict(top_k=0, full_config='x.py'), 'rerank.top_k must be'),
    ('rerank', dict(top_k=1, full_config=f'{REPO}/configs/dpc/dpc_mobilenet-'
                    'v2-d16_1xb8-300_synthetic-shapes-128x128.py',
                    cfg_options=dict(load_from='backbone.pth')),
     'load_from loads the whole model.*Use rerank.init_from'),
    ('pruner', dict(type='ASHA'), 'pruner.type must be one of'),
    ('pruner', dict(type='SuccessiveHalving'),
     r"pruner 'SuccessiveHalving' needs \['min_resource'\]"),
    ('pruner', dict(type='Hyperband', min_resource=10, reduction_factor=1),
     'pruner.reduction_factor must be >= 2'),
    ('pruner', dict(type='Median', interval_steps=5, warmup=3),
     r"pruner 'Median': unknown keys \['warmup'\]"),
])
def test_bad_settings_are_named_before_anything_exists(
        tmp_path, feature_cache, shapes_root, key, value, match):
    from mmseg_dpc.search.driver import SearchDriver
    cfg = Config.fromfile(search_config(tmp_path, feature_cache,
                                        shapes_root))
    cfg[key] = value
    wd = tmp_path / 'work'
    with pytest.raises(ValueError, match=match):
        SearchDriver(cfg, str(wd))
    assert not wd.exists()


def test_bad_command_lines_leave_no_study(tmp_path, feature_cache,
                                          shapes_root):
    cfg = search_config(tmp_path, feature_cache, shapes_root)
    for i, args in enumerate((['--workers', '0'], ['--workers', '-2'],
                              ['--resume'])):
        wd = tmp_path / f'work{i}'
        proc = search(cfg, '--work-dir', str(wd), *args)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert '\nerror: ' in '\n' + proc.stderr
        assert ('--workers must be >= 1' in proc.stderr
                or '--resume: no study' in proc.stderr)
        assert not (wd / 'study.db').exists()


# --- 6. a stale trial carries its reason ------------------------------------
@pytest.mark.processes
def test_a_stale_trial_gets_its_reason_and_result(tmp_path, feature_cache,
                                                  shapes_root):
    from optuna.storages import RDBStorage

    from mmseg_dpc import SEARCH_SPACES
    from mmseg_dpc.search import OptunaSpaceAdapter
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trials=1)
    wd = tmp_path / 'work'
    wd.mkdir()
    storage = RDBStorage(f'sqlite:///{wd / "study.db"}',
                         heartbeat_interval=1, grace_period=3)
    study = optuna.create_study(study_name=STUDY, storage=storage)
    adapter = OptunaSpaceAdapter(SEARCH_SPACES.build(dict(
        type='DPCSearchSpace', num_branches=2, rates=(1, 3), grids=(1, 2))))
    stale = study.ask(adapter.distributions())
    arch = adapter.from_params(stale.params)
    run_dir = wd / 'trials' / f'{stale.number:04d}-{arch.hash}'
    run_dir.mkdir(parents=True)
    for k, v in dict(arch_hash=arch.hash, arch=arch.to_json(),
                     trial_dir=str(run_dir), params=1, flops=1).items():
        stale.set_user_attr(k, v)
    storage.record_heartbeat(stale._trial_id)
    time.sleep(3.5)

    run_tool('tools/search.py', cfg, '--work-dir', str(wd))
    t = load(wd).get_trials()[stale.number]
    assert t.state == TrialState.FAIL
    assert 'no heartbeat for over 3s' in t.user_attrs['error']
    result = json.loads((run_dir / 'result.json').read_text())
    assert result['status'] == 'FAILED'
    assert 'no heartbeat' in result['error']
    board = json.loads((wd / 'leaderboard.json').read_text())
    row = next(r for r in board if r['trial'] == stale.number)
    assert 'no heartbeat' in row['error']
