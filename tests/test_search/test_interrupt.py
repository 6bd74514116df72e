"""Ctrl-C and SIGTERM: the driver stops launching, ends its running trials
and puts them back in the study (neither failures nor retries), writes the
leaderboard, says how to continue and exits 130 / 143; the same command
then continues at once with the same trials. A second Ctrl-C exits at once.
Nothing is left running either way (real processes)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from optuna.trial import TrialState

from ..conftest import REPO
from .test_reliability import (_phase_reached, alive, descendants,
                               with_hook)
from .test_search_tool import (assert_exact_and_distinct, complete, load,
                               rerank_options, search_config)

pytestmark = pytest.mark.processes


def start(cfg, wd, out):
    """The search in a process group of its own, as a terminal's
    foreground job."""
    return subprocess.Popen(
        [sys.executable, 'tools/search.py', cfg, '--work-dir', str(wd),
         '--workers', '2'], cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)


def wait_for(phase, wd, driver, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline and not _phase_reached(phase, wd):
        assert driver.poll() is None, 'the search ended before the signal'
        time.sleep(0.2)
    assert _phase_reached(phase, wd), f'the search never reached {phase}'


def none_left(pids, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if alive(p)]


def ctrl_c_when(reached, cfg, wd, log, timeout=600):
    """Start the search, Ctrl-C it once ``reached()``: it exits 130 saying
    so, without a traceback, and leaves no process of its own."""
    with open(log, 'w') as out:
        driver = start(cfg, wd, out)
        deadline = time.time() + timeout
        while time.time() < deadline and not reached():
            assert driver.poll() is None, 'the search ended before the signal'
            time.sleep(0.2)
        assert reached(), 'the search never reached the point of the signal'
        started = descendants(driver.pid)
        driver.send_signal(signal.SIGINT)
        rc = driver.wait(timeout=120)
    text = log.read_text()
    assert rc == 130, text[-3000:]
    assert 'interrupted by SIGINT' in text and 'Traceback' not in text
    assert none_left(started) == []


@pytest.mark.parametrize('signum,group', [
    (signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=['SIGINT', 'SIGTERM', 'Ctrl-C to the process group'])
def test_a_signal_during_the_search_puts_its_trials_back(
        tmp_path, feature_cache, shapes_root, monkeypatch, signum, group):
    """``group``: the signal goes to the driver's whole process group, as a
    terminal's Ctrl-C does; the trials are not in it (their own sessions)
    and the driver ends them itself."""
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trials=4,
                        rerank=rerank_options(shapes_root, 2, 6))
    hold = tmp_path / 'hold'
    hold.touch()  # trials 2 and 3 surely run at the signal
    with_hook(cfg, tmp_path, monkeypatch,
              dict(type='HoldFrom', number=2, hold=str(hold)))
    wd = tmp_path / 'work'
    log = tmp_path / 'first.log'
    with open(log, 'w') as out:
        driver = start(cfg, wd, out)
        wait_for('trials', wd, driver)
        running = {t.number for t in load(wd).get_trials()
                   if t.state == TrialState.RUNNING}
        started = descendants(driver.pid)
        if group:
            os.killpg(driver.pid, signum)
        else:
            driver.send_signal(signum)
        rc = driver.wait(timeout=120)
    text = log.read_text()
    assert rc == 128 + signum, text[-3000:]
    name = signal.Signals(signum).name
    assert f'interrupted by {name}' in text
    assert 'Run the same command to continue' in text
    assert 'Traceback' not in text
    assert none_left(started) == [], 'processes of the driver still run'
    study = load(wd)
    assert not study.get_trials(states=(TrialState.FAIL, )), \
        'interrupted trials were failed'
    waiting = {t.number for t in study.get_trials(
        states=(TrialState.WAITING, ))}
    assert running and running <= waiting
    for t in study.get_trials(states=(TrialState.WAITING, )):
        result = json.loads(open(f'{t.user_attrs["trial_dir"]}/'
                                 'result.json').read())
        assert result['status'] == 'INTERRUPTED'
    board = json.loads((wd / 'leaderboard.json').read_text())
    assert [r['status'] for r in board] == ['COMPLETE'] * len(
        complete(study))

    hold.unlink()
    again = subprocess.run(
        [sys.executable, 'tools/search.py', cfg, '--work-dir', str(wd),
         '--workers', '2'], cwd=REPO, capture_output=True, text=True,
        timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    study = load(wd)
    assert_exact_and_distinct(study, 4)
    # the same trials, taken again at once: no failure, no retry
    assert waiting <= {t.number for t in complete(study)}
    assert not study.get_trials(states=(TrialState.FAIL, ))
    assert not [t for t in study.get_trials()
                if t.system_attrs.get('failed_trial') is not None]
    assert json.loads((wd / 'rerank.json').read_text())['n'] == 2


def test_ctrl_c_during_re_ranking_keeps_the_search(
        tmp_path, feature_cache, shapes_root):
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trials=3,
                        rerank=rerank_options(shapes_root, 2, 60))
    wd = tmp_path / 'work'
    ctrl_c_when(lambda: _phase_reached('rerank', wd), cfg, wd,
                tmp_path / 'first.log')
    trials = {p: p.stat().st_mtime for p in wd.glob('trials/*/result.json')}
    assert len(trials) == 3
    statuses = [json.loads(p.read_text())['status']
                for p in wd.glob('rerank/*/result.json')]
    assert statuses and set(statuses) <= {'INTERRUPTED', 'COMPLETE'}
    again = subprocess.run(
        [sys.executable, 'tools/search.py', cfg, '--work-dir', str(wd),
         '--workers', '2'], cwd=REPO, capture_output=True, text=True,
        timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    report = json.loads((wd / 'rerank.json').read_text())
    assert report['n'] == 2
    assert all(r['status'] == 'COMPLETE' for r in report['trials'])
    assert {p: p.stat().st_mtime for p in
            wd.glob('trials/*/result.json')} == trials  # not retrained


def test_a_second_ctrl_c_exits_at_once(tmp_path, feature_cache, shapes_root,
                                       monkeypatch):
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trials=4)
    hold = tmp_path / 'hold'
    hold.touch()
    with_hook(cfg, tmp_path, monkeypatch,
              dict(type='HoldFrom', number=0, hold=str(hold)))
    wd = tmp_path / 'work'
    with open(tmp_path / 'first.log', 'w') as out:
        driver = start(cfg, wd, out)
        wait_for('startup', wd, driver)
        deadline = time.time() + 120
        while time.time() < deadline and len(descendants(driver.pid)) < 2:
            time.sleep(0.2)
        started = descendants(driver.pid)
        driver.send_signal(signal.SIGINT)
        driver.send_signal(signal.SIGINT)
        rc = driver.wait(timeout=60)
    assert rc == 130
    assert none_left(started) == [], 'processes of the driver still run'


def test_ctrl_c_during_the_verdict_keeps_search_and_re_ranking(
        tmp_path, feature_cache, shapes_root):
    """The verdict's full-task runs go through the re-ranking's runner: an
    interrupted one is retrained, a complete one kept, and neither the
    search's trials nor the re-ranking's runs are trained again."""
    from .test_verdict import ASPP
    rerank = rerank_options(shapes_root, 2, 6)
    rerank['cfg_options']['train_cfg'] = dict(max_iters=40, val_interval=40)
    rerank['cfg_options']['default_hooks'] = dict(
        checkpoint=dict(interval=40))
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trials=3,
                        rerank=rerank,
                        verdict=dict(seeds=2, max_seeds=2, median_cell=False,
                                     baselines={'mmseg ASPP': ASPP}))
    wd = tmp_path / 'work'
    ctrl_c_when(lambda: any((wd / 'verdict').glob('*/train.log')), cfg, wd,
                tmp_path / 'first.log')
    assert not (wd / 'verdicts.json').exists()
    done = {p: p.stat().st_mtime for p in
            [*wd.glob('trials/*/result.json'),
             *wd.glob('rerank/*/result.json')]}
    assert len(done) == 5
    verdict_runs = {p: json.loads(p.read_text())['status']
                    for p in wd.glob('verdict/*/result.json')}
    assert verdict_runs and set(verdict_runs.values()) <= {
        'INTERRUPTED', 'COMPLETE'}
    kept = {p: p.stat().st_mtime for p, s in verdict_runs.items()
            if s == 'COMPLETE'}
    again = subprocess.run(
        [sys.executable, 'tools/search.py', cfg, '--work-dir', str(wd),
         '--workers', '2'], cwd=REPO, capture_output=True, text=True,
        timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    assert {p: p.stat().st_mtime for p in done} == done  # not retrained
    assert {p: p.stat().st_mtime for p in kept} == kept
    v = json.loads((wd / 'verdicts.json').read_text())
    assert [m['seeds'] for m in v['models']] == [[1, 2]] * 2
    for p in wd.glob('verdict/*/result.json'):
        assert json.loads(p.read_text())['status'] == 'COMPLETE'
