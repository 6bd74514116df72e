"""Multi-fidelity search: trials report at rungs, the pruner stops poor
ones (real processes on small generated data)."""
import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from ..conftest import REPO, run_tool
from .test_reliability import descendants, with_hook
from .test_search_tool import load, run_two_drivers, search_config

STUDY = 'dpc-search_synthetic-shapes'
# 16-iteration proxy trials; successive halving with rungs at 4 and 8
PRUNER = dict(type='SuccessiveHalving', min_resource=4, reduction_factor=2)
RUNGS = [4, 8]


def pruning_config(tmp_path, cache, shapes_root, monkeypatch, *hooks,
                   **extra):
    cfg = search_config(tmp_path, cache, shapes_root, pruner=PRUNER, **extra)
    with open(cfg, 'a') as f:
        f.write('proxy_cfg_options.update(\n'
                '    train_cfg=dict(max_iters=16, val_interval=16),\n'
                '    param_scheduler=[dict(type="PolyLR", eta_min=0.0,\n'
                '        power=0.9, begin=0, end=16, by_epoch=False)],\n'
                '    default_hooks=dict(checkpoint=dict(interval=16),\n'
                '                       logger=dict(interval=2)))\n')
    # odd trials learn nothing: cells the pruner has to stop
    return with_hook(cfg, tmp_path, monkeypatch, dict(type='NoLearning'),
                     *hooks)


def evaluated(study):
    return [t for t in study.get_trials()
            if 'skipped' not in t.user_attrs
            and t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def assert_exact_and_distinct_evaluated(study, n):
    done = evaluated(study)
    assert len(done) == n, [(t.number, t.state) for t in study.get_trials()]
    hashes = [t.user_attrs['arch_hash'] for t in done]
    assert len(set(hashes)) == n, 'an architecture was evaluated twice'


def logged_steps(run_dir):
    """Training iterations mmengine logged (every 2)."""
    steps = []
    for root, _, files in os.walk(run_dir):
        if 'scalars.json' in files:
            with open(os.path.join(root, 'scalars.json')) as f:
                steps += [json.loads(line)['step'] for line in f
                          if '"loss"' in line]
    return steps


def test_a_pruned_search_stops_poor_cells_at_rungs(
        tmp_path, feature_cache, shapes_root, monkeypatch):
    cfg = pruning_config(tmp_path, feature_cache, shapes_root, monkeypatch)
    wd = tmp_path / 'work'
    proc = run_tool('tools/search.py', cfg, '--work-dir', str(wd),
                    '--workers', '1')
    study = load(wd)
    assert_exact_and_distinct_evaluated(study, 6)
    pruned = study.get_trials(states=(TrialState.PRUNED, ))
    pruned = [t for t in pruned if 'skipped' not in t.user_attrs]
    done = study.get_trials(states=(TrialState.COMPLETE, ))
    assert pruned, 'no trial was pruned'
    assert done, 'every trial was pruned'
    assert f'{len(pruned)} pruned (saved' in proc.stdout
    for t in pruned:
        stop = t.user_attrs['stopped_at']
        assert stop in RUNGS
        # reported at each rung it reached, stopped at the rung it failed
        assert sorted(t.intermediate_values) == [r for r in RUNGS
                                                 if r <= stop]
        assert t.value == t.intermediate_values[stop]
        run_dir = t.user_attrs['trial_dir']
        assert os.path.exists(os.path.join(run_dir, 'config.py'))
        assert os.path.exists(os.path.join(run_dir, 'train.log'))
        assert max(logged_steps(run_dir)) <= stop, 'trained past its rung'
        result = json.loads(open(os.path.join(run_dir,
                                              'result.json')).read())
        assert result['status'] == 'PRUNED'
        assert result['stopped_at'] == stop
        assert result['metrics']['mIoU'] == t.user_attrs['mIoU']
    for t in done:
        assert sorted(t.intermediate_values) == RUNGS + [16]
        assert max(logged_steps(t.user_attrs['trial_dir'])) == 16
    board = json.loads((wd / 'leaderboard.json').read_text())
    assert [r['status'] for r in board] == \
        ['COMPLETE'] * len(done) + ['PRUNED'] * len(pruned)
    assert all(r['rank'] is None and r['stopped_at'] in RUNGS
               for r in board if r['status'] == 'PRUNED')
    summary = json.loads((wd / 'summary.json').read_text())
    assert summary['pruned'] == len(pruned) and summary['rungs'] == RUNGS

    # a re-run trains nothing again, and a pruned cell proposed again (as
    # a sampler might) is skipped, never retrained
    optuna.load_study(study_name=STUDY, storage=f'sqlite:///{wd}/study.db'
                      ).enqueue_trial(pruned[0].params)
    run_tool('tools/search.py', cfg, '--work-dir', str(wd), '--workers',
             '1', '--cfg-options', 'num_trials=7')
    study = load(wd)
    again = [t for t in study.get_trials()
             if t.params == pruned[0].params
             and t.number != pruned[0].number]
    assert any('fixed_params' in t.system_attrs for t in again)
    for t in again:  # the enqueued one (and any resampled twin)
        assert t.state == TrialState.PRUNED
        assert t.user_attrs['skipped'] == \
            f'duplicate of trial {pruned[0].number}'
    assert_exact_and_distinct_evaluated(study, 7)
    assert not [t for t in study.get_trials()
                if t.system_attrs.get('failed_trial') is not None]


@pytest.mark.processes
def test_a_driver_killed_between_rungs_resumes(
        tmp_path, feature_cache, shapes_root, monkeypatch):
    hold = tmp_path / 'hold'
    hold.touch()  # trials 2 and later wait at iteration 6, past rung 4
    cfg = pruning_config(tmp_path, feature_cache, shapes_root, monkeypatch,
                         dict(type='HoldAt', number=2, iter=6,
                              hold=str(hold)))
    wd = tmp_path / 'work'
    driver = subprocess.Popen(
        [sys.executable, 'tools/search.py', cfg, '--work-dir', str(wd),
         '--workers', '2'], cwd=REPO, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)

    def between_rungs():  # the trials waiting in HoldAt
        return sorted(int(p.name.rsplit('.', 1)[1])
                      for p in tmp_path.glob('hold.*'))

    deadline = time.time() + 300
    while time.time() < deadline and not between_rungs():
        assert driver.poll() is None, 'the search ended before the kill'
        time.sleep(0.2)
    assert between_rungs(), 'no trial got past its first rung'
    started = descendants(driver.pid)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    study = load(wd)
    held = [t for t in study.get_trials() if t.number in between_rungs()]
    assert all(t.state == TrialState.RUNNING and 4 in t.intermediate_values
               for t in held)
    before = {t.number: t.state for t in study.get_trials()}
    hold.unlink()
    run_tool('tools/search.py', cfg, '--work-dir', str(wd), '--workers', '2')
    study = load(wd)
    assert started
    assert_exact_and_distinct_evaluated(study, 6)
    after = {t.number: t for t in study.get_trials()}
    for number, state in before.items():  # nothing finished was lost
        if state in (TrialState.COMPLETE, TrialState.PRUNED):
            assert after[number].state == state
    for t in held:  # failed as stale (rung values kept), then retried
        assert after[t.number].state == TrialState.FAIL
        assert 4 in after[t.number].intermediate_values
    retried = [t for t in study.get_trials()
               if t.system_attrs.get('failed_trial') is not None]
    assert {t.system_attrs['failed_trial'] for t in retried} >= \
        {t.number for t in held}
    pruned_numbers = {t.number for t in study.get_trials(
        states=(TrialState.PRUNED, )) if 'skipped' not in t.user_attrs}
    assert not {t.system_attrs['failed_trial']
                for t in retried} & pruned_numbers, 'a pruned trial ran again'


def test_a_pruner_with_several_objectives_is_refused(
        tmp_path, feature_cache, shapes_root):
    cfg = search_config(tmp_path, feature_cache, shapes_root,
                        pruner=PRUNER, objectives=[
                            dict(name='mIoU', direction='maximize'),
                            dict(name='flops', direction='minimize')])
    proc = subprocess.run(
        [sys.executable, 'tools/search.py', cfg, '--work-dir',
         str(tmp_path / 'work')], cwd=REPO, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 2
    assert ("pruner 'SuccessiveHalving' with 2 objectives (mIoU, flops): "
            "Optuna's pruners are single-objective") in proc.stderr
    assert not (tmp_path / 'work').exists()


def test_every_process_builds_the_same_hyperband_brackets():
    """Two drivers prune alike only if the pruner does not depend on the
    process: Hyperband's brackets come from a CRC of the study name and the
    trial number (not Python's salted hash), and its max_resource is set
    from the proxy's iterations, not inferred from the first trials."""
    code = (
        'import optuna\n'
        'from mmseg_dpc.search.pruning import build_pruner\n'
        'p = build_pruner(dict(type="Hyperband", min_resource=4,\n'
        '                      reduction_factor=2), 64)\n'
        's = optuna.create_study(study_name="s")\n'
        'p._try_initialization(s)\n'
        'ids = []\n'
        'for n in range(40):\n'
        '    t = optuna.trial.create_trial(value=0.0)\n'
        '    t.number = n\n'
        '    ids.append(p._get_bracket_id(s, t))\n'
        'print(ids)\n')
    outs = []
    for seed in ('1', '2'):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, '-c', code], env=env,
                              capture_output=True, text=True, cwd=REPO,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs.append(proc.stdout.strip().splitlines()[-1])
    assert outs[0] == outs[1]
    assert len(set(eval(outs[0]))) == 5  # log2(64 / 4) + 1 brackets


@pytest.mark.processes
def test_two_drivers_prune_one_postgresql_study(
        tmp_path, feature_cache, shapes_root, monkeypatch, postgres_url):
    """Two drivers, one Hyperband study on PostgreSQL: exactly num_trials
    cells evaluated, none twice, every stop at a rung, nothing pruned
    retried."""
    cfg = pruning_config(tmp_path, feature_cache, shapes_root, monkeypatch)
    with open(cfg, 'a') as f:
        f.write('pruner = dict(type="Hyperband", min_resource=4, '
                'reduction_factor=2)\n'
                'study_name = "dpc-search_pruned-pair"\n')
    run_two_drivers(cfg, tmp_path, postgres_url)
    study = optuna.load_study(study_name='dpc-search_pruned-pair',
                              storage=postgres_url)
    assert_exact_and_distinct_evaluated(study, 6)
    for t in evaluated(study):
        if t.state == TrialState.PRUNED:
            assert t.user_attrs['stopped_at'] in RUNGS
            assert t.value == t.intermediate_values[
                t.user_attrs['stopped_at']]
        else:
            assert sorted(t.intermediate_values) == RUNGS + [16]
    pruned = {t.number for t in evaluated(study)
              if t.state == TrialState.PRUNED}
    assert not {t.system_attrs.get('failed_trial')
                for t in study.get_trials()} & pruned


def test_rungs_and_pruners_of_each_kind():
    from mmseg_dpc.search.pruning import build_pruner, rung_steps
    sha = dict(type='SuccessiveHalving', min_resource=30, reduction_factor=3)
    assert rung_steps(None, 300) == []
    assert rung_steps(sha, 300) == [30, 90, 270]
    assert rung_steps(dict(sha, min_early_stopping_rate=1), 300) == [90, 270]
    assert rung_steps(dict(type='Hyperband', min_resource=10,
                           reduction_factor=2), 100) == [10, 20, 40, 80]
    assert rung_steps(dict(type='Median', interval_steps=50,
                           n_warmup_steps=100), 300) == [100, 150, 200, 250]
    assert isinstance(build_pruner(None, 300), optuna.pruners.NopPruner)
    assert isinstance(build_pruner(sha, 300),
                      optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(build_pruner(dict(type='Median', interval_steps=5),
                                   300), optuna.pruners.MedianPruner)
