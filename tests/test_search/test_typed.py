"""Typed values of the search: records from a study's trials, the mirror
and admission, the settings' dataclasses, progress events and their one
formatter."""
import json
from datetime import datetime, timedelta

import optuna
import pytest
from mmengine.config import Config
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from mmseg_dpc.search.admission import admission
from mmseg_dpc.search.architecture import Architecture
from mmseg_dpc.search.progress import (CacheProgress, Message, ProgressLog,
                                       RunTrained, SearchProgress,
                                       TrainingPlanned, TrainProgress,
                                       format_event, num, read_events)
from mmseg_dpc.search.record import (COMPLETE, FAILED, PRUNED, TrialRecord,
                                     cell_attrs, cost_attrs, evaluated_records,
                                     outcome_attrs, skip_attrs,
                                     trial_dir_attrs)
from mmseg_dpc.search.settings import (PrunerSettings, RerankSettings,
                                       StrategySettings, VerdictSettings)
from mmseg_dpc.search.study_view import TRIAL_ERROR, StudyView

CELL = [dict(op='conv', kernel=3, rate=[6, 3], input=-1),
        dict(op='conv', kernel=1, input=0)]
T0 = datetime(2026, 1, 1)


def frozen(number, state, attrs, value=None, start=0.0, end=None):
    """A study's trial as Optuna hands it out."""
    t = create_trial(
        state=state, value=value, user_attrs=attrs,
        params={'x': 0}, distributions={'x': CategoricalDistribution([0])})
    t.number = number
    t.datetime_start = T0 + timedelta(seconds=start)
    t.datetime_complete = (None if not state.is_finished() else
                           T0 + timedelta(seconds=end or start + 1))
    return t


def admitted(arch, run_dir, cost=dict(params=10, flops=20)):
    return {**cell_attrs(arch), **cost_attrs(cost), **trial_dir_attrs(run_dir)}


def test_a_record_round_trips_through_the_study(tmp_path):
    arch = Architecture(CELL)
    run_dir = str(tmp_path / '0003-x')
    rec = TrialRecord.build(3, arch, run_dir, dict(params=10, flops=20),
                            1.5, metrics=dict(mIoU=41.5, aAcc=80.0, step=9))
    t = frozen(3, TrialState.COMPLETE,
               {**admitted(arch, run_dir), **outcome_attrs(rec)}, 41.5)
    back = TrialRecord.from_trial(t)
    assert back.arch == arch and back.arch.to_json() == arch.to_json()
    assert back.status == COMPLETE and back.run_dir == run_dir
    assert back.metrics == rec.metrics  # metrics apart from the other keys
    assert (back.params, back.flops, back.wall_time) == (10, 20, 1.5)
    # result.json keeps its format: the cell as reference dicts
    rec.write()
    data = json.loads((tmp_path / '0003-x' / 'result.json').read_text())
    assert data['arch'] == arch.to_list() and data['arch_hash'] == arch.hash
    assert TrialRecord.read(run_dir) == rec
    baseline = TrialRecord.build(0, None, str(tmp_path / 'b'), {}, 1.0,
                                 metrics=dict(mIoU=1.0))
    baseline.write()
    assert json.loads((tmp_path / 'b' / 'result.json').read_text())[
        'arch'] == []
    assert TrialRecord.read(str(tmp_path / 'b')).arch is None


def test_failed_pruned_and_skipped_trials_as_records(tmp_path):
    arch = Architecture(CELL)
    pruned = TrialRecord.build(1, arch, str(tmp_path), {}, 1.0,
                               metrics=dict(mIoU=3.0), stopped_at=4)
    trials = [
        frozen(0, TrialState.PRUNED, skip_attrs('duplicate of trial 1'),
               start=0),
        frozen(1, TrialState.PRUNED, {**admitted(arch, str(tmp_path)),
                                      **outcome_attrs(pruned)}, 3.0,
               start=1, end=9),
        frozen(2, TrialState.COMPLETE, admitted(arch, str(tmp_path)), 5.0,
               start=2, end=5),
        frozen(3, TrialState.FAIL, outcome_attrs(
            TrialRecord.build(3, arch, str(tmp_path), {}, 1.0, error='boom'),
            TRIAL_ERROR), start=3)]
    assert TrialRecord.from_trial(trials[1]).status == PRUNED
    assert TrialRecord.from_trial(trials[1]).stopped_at == 4
    assert TrialRecord.from_trial(trials[3]).status == FAILED
    assert TrialRecord.from_trial(trials[3]).error == 'boom'
    # evaluated: skipped and failed left out, in the order they finished
    assert [r.trial for r in evaluated_records(trials)] == [2, 1]


def test_the_mirror_counts_and_admission_decides(tmp_path):
    a = Architecture(CELL)
    b = Architecture([dict(op='conv', kernel=1, input=-1)])
    view = StudyView(sign=1, started_at=0.0)
    view.update([
        (10, frozen(0, TrialState.COMPLETE, admitted(a, 'x'), 4.0, start=0)),
        (11, frozen(1, TrialState.RUNNING, cell_attrs(b), start=1)),
        (12, frozen(2, TrialState.RUNNING, cell_attrs(a), start=2)),
        (13, frozen(3, TrialState.RUNNING, cell_attrs(b), start=3))])
    c = view.counts()
    assert (c.complete, c.running, c.evaluated) == (1, 3, 1)
    assert view.best().number == 0 and view.best().value == 4.0
    # trial 2 holds a's cell after trial 0: a duplicate
    assert admission(view, 12, a.hash, dict(params=1, flops=1), 9,
                     {}) == 'duplicate of trial 0'
    assert admission(view, 11, b.hash, dict(params=1, flops=1), 9,
                     {}) is None
    assert admission(view, 11, b.hash, dict(params=5, flops=1), 9,
                     dict(max_params=4)).startswith('infeasible: params 5')
    # with 2 slots, trial 0 (complete) and 1 (running) hold them
    assert admission(view, 13, 'other', dict(params=1, flops=1), 2,
                     {}) == 'quota full'
    # a trial that ends is taken from the unfinished ones
    view.update([(11, frozen(1, TrialState.FAIL, outcome_attrs(
        TrialRecord.build(1, b, 'x', {}, 1.0, error='e'), TRIAL_ERROR),
        start=1, end=2))])
    assert view.counts().failed == 1 and view.counts().running == 2
    assert 11 not in view.unfinished


def test_settings_are_frozen_dataclasses_and_bad_values_named(tmp_path):
    s = StrategySettings.from_config(dict(type='evolution', seed=3,
                                          population_size=4))
    assert (s.type, s.seed, s.options) == ('evolution', 3,
                                          dict(population_size=4))
    with pytest.raises(Exception):
        s.type = 'random'
    with pytest.raises(ValueError, match="strategy 'tpe': unknown keys"):
        StrategySettings.from_config(dict(type='tpe', n_startup=3))
    assert StrategySettings.from_config(
        dict(type='tpe', n_startup_trials=3)).options == dict(
            n_startup_trials=3)
    p = PrunerSettings.from_config(dict(type='SuccessiveHalving',
                                        min_resource=5))
    assert p.to_dict() == dict(type='SuccessiveHalving', min_resource=5)
    assert PrunerSettings.from_config(p) is p
    with pytest.raises(ValueError, match="needs \\['min_resource'\\]"):
        PrunerSettings.from_config(dict(type='Hyperband'))
    ckpt = tmp_path / 'b.pth'
    ckpt.write_bytes(b'')
    cfg = Config(dict(rerank=dict(top_k=2, full_config=__file__,
                                  init_from=str(ckpt))))
    r = RerankSettings.from_config(cfg, trial_timeout=60.0)
    assert r.timeout == 60.0 and r.initialised == f'backbone from {ckpt}'
    cfg.rerank.timeout = None  # set: no limit, whatever trial_timeout is
    assert RerankSettings.from_config(cfg, 60.0).timeout is None
    cfg.verdict = dict(seeds=2)
    v = VerdictSettings.from_config(cfg)
    assert (v.seeds, v.median_cell, v.baselines) == (2, True, {})


def test_progress_events_round_trip_and_read_the_same(tmp_path, capsys):
    log = ProgressLog(str(tmp_path))
    events = [
        SearchProgress(3, 4, 1, True, 0, 1, 120, 'mIoU', 0, 12.345, 'abc',
                       75.0, 3725.0),
        TrainingPlanned('verdict', '4 models x 2 seeds', 8, 0),
        RunTrained('rerank', 'trial 0 (abc)', 'COMPLETE', 1.0, 1, 2, 3.0,
                   proxy_mIoU=None),
        RunTrained('fidelity', 'abc seed 1', 'FAILED', None, 2, 6, 60.0,
                   error='boom', part='full'),
        Message('rerank', 'proxy vs full'),
        TrainProgress('backbone', 50, 300, 125.0),
        CacheProgress('cache', dict(train=(64, 256), val=(0, 64)))]
    for e in events:
        log.emit(e)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == ('[search] 3/4 done, 1 running (+1 prepared), 0 '
                          'failed, 1 pruned (saved 120 proxy iterations) | '
                          'best mIoU 12.35 (trial 0, abc) | elapsed 1m15s, '
                          'ETA 1h02m05s')
    assert printed[1] == ('[verdict] 4 models x 2 seeds: 8 trained before, '
                          '0 to train')
    assert printed[2] == '[rerank] trial 0 (abc): proxy mIoU n/a, full 1.00 ' \
        'COMPLETE'
    assert printed[3:5] == ['[fidelity] full abc seed 1 FAILED: boom',
                            '[fidelity] full: 2/6 trained, ETA 1.0 min']
    assert printed[-1] == ('[cache] train 64/256 images cached, val 0/64 '
                           'images cached')
    read, offset = read_events(str(tmp_path / 'progress.jsonl'))
    assert read == events  # the watcher sees what was printed
    assert '\n'.join(format_event(e) for e in read).splitlines() == printed
    assert read_events(str(tmp_path / 'progress.jsonl'), offset) == \
        ([], offset)
    with open(tmp_path / 'progress.jsonl', 'a') as f:
        f.write('{"event": "Message", "stage"')  # being written: waits
    assert read_events(str(tmp_path / 'progress.jsonl'), offset)[0] == []
    assert num(None) == 'n/a' and num(0.9999999999999999) == '1.00'


def test_the_ledger_hands_out_records(tmp_path):
    """A real study (SQLite): what the ledger told is what it hands out."""
    from mmseg_dpc.search.ledger import StudyLedger
    from mmseg_dpc.search.settings import SearchSettings
    st = SearchSettings(search_space={}, proxy_config='p.py', num_trials=2)
    ledger = StudyLedger(st, f'sqlite:///{tmp_path}/s.db',
                         optuna.samplers.RandomSampler(seed=0))
    ledger.start()
    try:
        archs = [Architecture(CELL),
                 Architecture([dict(op='conv', kernel=1, input=-1)])]
        dist = dict(x=CategoricalDistribution([0]))
        for i, arch in enumerate(archs):
            trial = ledger.ask(dist)
            assert ledger.admit(trial, arch, dict(params=i, flops=i)) is None
            run_dir = str(tmp_path / f'{i}')
            ledger.set_trial_dir(trial, run_dir)
            rec = TrialRecord.build(trial.number, arch, run_dir,
                                    dict(params=i, flops=i), 1.0,
                                    metrics=dict(mIoU=float(i)))
            assert ledger.complete(trial, rec)
        trial = ledger.ask(dist)  # a third: the quota is full
        assert ledger.admit(trial, archs[0], dict(params=0, flops=0)) == \
            'duplicate of trial 0'
        records = ledger.complete_trials()
        assert [r.trial for r in records] == [1, 0]  # best first
        assert [r.arch for r in records] == archs[::-1]
        assert records[0].run_dir == str(tmp_path / '1')
        c = ledger.counts()
        assert (c.complete, c.skipped, c.running) == (2, 1, 0)
        assert ledger.best().number == 1
    finally:
        ledger.stop()
