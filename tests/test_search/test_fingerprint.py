"""A resumed work dir never reuses a run made under other settings: a
complete run whose config differs from the one it would get now is trained
again (or refused, naming the keys that differ)."""
import json

import pytest
from mmengine.config import Config

from mmseg_dpc.search.fingerprint import (ChangedRunsError, ConfigChange,
                                          config_change, fingerprint,
                                          flat_config)

from ..conftest import run_tool
from .test_search_tool import rerank_options, search_config


def test_configs_compare_by_what_they_train():
    a = Config(dict(model=dict(decode_head=dict(channels=128)),
                    train_cfg=dict(max_iters=4), work_dir='/runs/a',
                    custom_hooks=[dict(type='H', report=dict(trial_id=1))],
                    crop=(8, 8)))
    b = Config(dict(model=dict(decode_head=dict(channels=128)),
                    train_cfg=dict(max_iters=4), work_dir='/elsewhere',
                    custom_hooks=[dict(type='H', report=dict(trial_id=2))],
                    crop=[8, 8]))
    # where it runs and the study's trial id say nothing of what trains
    assert config_change('r', a, b) == ConfigChange('r', ())
    assert fingerprint(a) == fingerprint(b)
    assert flat_config(a)['model.decode_head.channels'] == 128
    b.train_cfg.max_iters = 5
    b.model.decode_head.pop('channels')
    b.seed = 1
    assert config_change('r', a, b).keys == (
        'model.decode_head.channels', 'seed', 'train_cfg.max_iters')
    assert fingerprint(a) != fingerprint(b)
    error = ChangedRunsError([config_change('r', a, b)])
    assert 'r: model.decode_head.channels, seed, train_cfg.max_iters' in \
        str(error)


def test_a_changed_full_task_is_trained_again(tmp_path, feature_cache,
                                              shapes_root):
    """The fidelity tool twice on one work dir, the second time with
    another full-task schedule: the proxy runs are kept, the full-task runs
    (all of them, and only them) trained again, the change named."""
    def run(iters):
        cfg = search_config(tmp_path, feature_cache, shapes_root,
                            rerank=rerank_options(shapes_root, 1, iters))
        return run_tool('tools/analysis/proxy_fidelity.py', cfg,
                        '--work-dir', str(wd), '--cells', '3', '--seeds',
                        '1', '--workers', '2').stdout

    wd = tmp_path / 'fidelity'
    run(3)
    before = {p: p.stat().st_mtime for p in wd.glob('*/*/result.json')}
    out = run(4)
    assert 'proxy: 3 runs done before, 0 to train' in out
    assert 'full: 0 runs done before, 3 to train' in out
    assert '3 complete run(s) were trained under other settings' in out
    assert 'train_cfg.max_iters' in out
    after = {p: p.stat().st_mtime for p in wd.glob('*/*/result.json')}
    for path, mtime in before.items():
        assert (after[path] == mtime) == (path.parent.parent.name == 'proxy')
    for path in wd.glob('full/*/result.json'):
        assert json.loads(path.read_text())['metrics']['step'] == 4
    again = run(4)  # the same settings: nothing trains
    assert 'full: 3 runs done before, 0 to train' in again


def test_bad_on_changed_is_named():
    from mmseg_dpc.search.runner import TrialRunner
    with pytest.raises(ValueError, match="on_changed must be one of "
                       r"\('retrain', 'refuse'\), got 'keep'"):
        TrialRunner(None, Config(), on_changed='keep')


def test_rerank_on_changed_refuse_names_the_keys(tmp_path, feature_cache,
                                                 shapes_root):
    """The search with ``rerank.on_changed='refuse'``: re-ranking runs of
    another schedule are refused before anything trains, naming the key;
    the runs stay as they were."""
    import subprocess
    import sys

    from ..conftest import REPO
    wd = tmp_path / 'work'

    def search(iters):
        cfg = search_config(tmp_path, feature_cache, shapes_root,
                            num_trials=2, rerank=dict(
                                rerank_options(shapes_root, 1, iters),
                                on_changed='refuse'))
        return subprocess.run([sys.executable, 'tools/search.py', cfg,
                               '--work-dir', str(wd)], cwd=REPO,
                              capture_output=True, text=True, timeout=600)

    first = search(3)
    assert first.returncode == 0, first.stdout + first.stderr
    kept = {p: p.stat().st_mtime for p in wd.glob('rerank/*/result.json')}
    assert kept
    refused = search(4)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert 'trained under other settings' in refused.stderr
    assert 'train_cfg.max_iters' in refused.stderr
    assert {p: p.stat().st_mtime for p in
            wd.glob('rerank/*/result.json')} == kept
    with pytest.raises(ValueError, match="rerank.on_changed must be one of"):
        from mmseg_dpc.search.settings import RerankSettings
        RerankSettings.from_config(Config(dict(rerank=dict(
            top_k=1, full_config=__file__, on_changed='keep'))))
