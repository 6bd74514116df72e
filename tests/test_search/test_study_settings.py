"""A study is one experiment: its proxy settings are stored with it and a
run under other ones is refused, naming them; the evolution sampler takes
its population from the ledger's mirror, not from every trial of the
study."""
import subprocess
import sys

from optuna.trial import create_trial

from mmseg_dpc.search.space import DPCSearchSpace
from mmseg_dpc.search.strategies import RegularizedEvolutionSampler

from ..conftest import REPO
from .test_search_tool import load, search_config


def search(cfg, wd):
    return subprocess.run([sys.executable, 'tools/search.py', cfg,
                           '--work-dir', str(wd)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def test_other_proxy_settings_are_refused_naming_them(tmp_path,
                                                      feature_cache,
                                                      shapes_root):
    wd = tmp_path / 'work'
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trials=2)
    first = search(cfg, wd)
    assert first.returncode == 0, first.stdout + first.stderr
    # more trials of the same experiment: allowed
    more = search_config(tmp_path, feature_cache, shapes_root, num_trials=3,
                         name='more.py')
    assert search(more, wd).returncode == 0
    before = len(load(wd).get_trials())
    other = search_config(
        tmp_path, feature_cache, shapes_root, num_trials=4, name='other.py',
        proxy_cfg_options=dict(
            train_cfg=dict(max_iters=6, val_interval=6),
            train_dataloader=dict(batch_size=4, dataset=dict(
                data_root=feature_cache)),
            val_dataloader=dict(dataset=dict(data_root=feature_cache)),
            test_dataloader=dict(dataset=dict(data_root=feature_cache))))
    refused = search(other, wd)
    assert refused.returncode == 2
    assert 'was run with other proxy settings (' in refused.stderr
    assert 'train_cfg.max_iters' in refused.stderr
    assert 'start a new study' in refused.stderr
    assert len(load(wd).get_trials()) == before  # nothing started


def test_evolution_reads_its_population_from_the_mirror(tmp_path):
    from mmseg_dpc.search.ledger import StudyLedger
    from mmseg_dpc.search.optuna_adapter import OptunaSpaceAdapter
    from mmseg_dpc.search.settings import SearchSettings
    from mmengine.config import Config
    space = DPCSearchSpace(num_branches=2, rates=(1, 3), grids=(1, 2))
    adapter = OptunaSpaceAdapter(space)
    proxy = (f'{REPO}/configs/proxy/dpc-proxy_mobilenet-v2-d16_1xb8-1k_'
             'synthetic-shapes-128x128.py')
    settings = SearchSettings.from_config(Config(dict(
        search_space=dict(num_branches=2, rates=(1, 3), grids=(1, 2)),
        proxy_config=proxy, num_trials=40)))
    sampler = RegularizedEvolutionSampler(space, population_size=5,
                                          sample_size=3, seed=0)
    ledger = StudyLedger(settings, f'sqlite:///{tmp_path}/study.db',
                         sampler)
    dists = adapter.distributions()
    for i, arch in enumerate(space.samples(12, seed=1)):
        ledger.study.add_trial(create_trial(
            params=adapter.params(arch), distributions=dists,
            value=float(i % 7)))
    mirror = [m.number for m in ledger.youngest_complete(5)]
    scan = sorted(ledger.study.get_trials(), key=lambda t: (
        t.datetime_start, t.number))[-5:]
    assert mirror == [t.number for t in scan]
    # sampling reads no trial list of the study
    calls = []
    real = ledger.study.get_trials
    ledger.study.get_trials = lambda *a, **k: calls.append(1) or real(*a,
                                                                      **k)
    ledger.start()
    try:
        trial = ledger.ask(dists)
    finally:
        ledger.stop()
    assert calls == []
    assert adapter.from_params(trial.params) in space


def test_the_final_progress_line_is_printed_once(tmp_path, feature_cache,
                                                 shapes_root):
    """The last trial's completion already prints ``3/3 done``; the
    driver's closing progress line said it again (issue 22, defect 7)."""
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trials=3)
    proc = search(cfg, tmp_path / 'work')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    final = [line for line in proc.stdout.splitlines()
             if line.startswith('[search] 3/3 done')]
    assert len(final) == 1, final


def test_an_interrupted_trial_that_reported_to_the_pruner_is_queued_anew(
        tmp_path):
    """A trial put back after Ctrl-C waits with its own number; one that
    reported intermediate values (to a pruner) would carry them into its
    rerun, whose reports Optuna would ignore: it is set aside uncounted and
    its cell queued as a new trial (neither a failure nor a retry)."""
    from mmengine.config import Config
    from optuna.trial import TrialState

    from mmseg_dpc.search.ledger import StudyLedger
    from mmseg_dpc.search.optuna_adapter import OptunaSpaceAdapter
    from mmseg_dpc.search.record import skip_reason
    from mmseg_dpc.search.settings import SearchSettings
    space = DPCSearchSpace(num_branches=2, rates=(1, 3), grids=(1, 2))
    adapter = OptunaSpaceAdapter(space)
    proxy = (f'{REPO}/configs/proxy/dpc-proxy_mobilenet-v2-d16_1xb8-1k_'
             'synthetic-shapes-128x128.py')
    settings = SearchSettings.from_config(Config(dict(
        search_space=dict(num_branches=2, rates=(1, 3), grids=(1, 2)),
        proxy_config=proxy, num_trials=4)))
    ledger = StudyLedger(settings, f'sqlite:///{tmp_path}/study.db',
                         RegularizedEvolutionSampler(space, seed=0))
    dists = adapter.distributions()
    ledger.start()
    try:
        quiet, reported = ledger.ask(dists), ledger.ask(dists)
        reported.report(10.0, step=4)
        assert ledger.interrupt(quiet) and ledger.interrupt(reported)
        trials = {t.number: t for t in ledger.study.get_trials()}
        assert trials[quiet.number].state == TrialState.WAITING
        old = trials[reported.number]
        assert old.state == TrialState.PRUNED and skip_reason(old)
        (new, ) = [t for t in trials.values() if t.number > reported.number]
        assert new.state == TrialState.WAITING
        assert new.system_attrs['fixed_params'] == old.params
        assert 'failed_trial' not in new.system_attrs  # not a retry
        again = ledger.ask(dists)  # the waiting ones, first come first
        assert again.number == quiet.number
        assert ledger.counts().failed == 0
    finally:
        ledger.stop()
