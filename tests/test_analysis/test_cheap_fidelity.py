"""proxy_fidelity.py --cheap: one-shot and zero-cost scores of the same
uniform cells against their stand-alone proxy mIoU, on a tiny setting
(real processes, generated data), resumable."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from mmseg_dpc.analysis.cheap_fidelity import ceiling, stage_fidelity
from mmseg_dpc.tools.analysis.cheap_fidelity import nested_options
from mmseg_dpc.tools.cli import schedule_options

from ..conftest import REPO, run_tool
from ..test_search.conftest import feature_cache  # noqa: F401 (fixture)
from ..test_search.test_search_tool import search_config


def test_stage_fidelity_of_known_rankings():
    rng = np.random.default_rng(0)
    proxy = np.arange(12, dtype=float)[:, None] + rng.normal(0, .1, (12, 2))
    same = stage_fidelity('x', proxy, list(range(12)))
    assert same.spearman == pytest.approx(1.0)
    assert same.kendall == pytest.approx(1.0)
    reverse = stage_fidelity('x', proxy, [-v for v in range(12)])
    assert reverse.spearman == pytest.approx(-1.0)
    # a non-finite score ranks last, as the search ranks it
    worst = stage_fidelity('x', proxy, [float('-inf')] + list(range(1, 12)))
    assert worst.spearman == pytest.approx(1.0)
    assert ceiling(proxy) > 0.99 and ceiling(proxy[:, :1]) is None


def test_fidelity_tool_cheap_stages_tiny_and_resumable(tmp_path,
                                                       feature_cache,
                                                       shapes_root):
    cfg = search_config(tmp_path, feature_cache, shapes_root)
    wd = tmp_path / 'fidelity'
    args = ['tools/analysis/proxy_fidelity.py', cfg, '--work-dir', str(wd),
            '--cells', '4', '--seeds', '2', '--workers', '2',
            '--cheap', 'one_shot:rate_pair', 'naswot', 'synflow',
            '--cheap-options', 'bn_batches=2']
    out = run_tool(*args).stdout
    assert 'proxy: 0 runs done before, 8 to train' in out
    assert 'full:' not in out  # the cheap stages replace the full task
    res = json.loads((wd / 'cheap_fidelity.json').read_text())
    assert res['cells'] == 4 and res['seeds'] == 2
    names = [s['stage'] for s in res['stages']]
    assert names == ['one_shot:rate_pair', 'naswot', 'synflow']
    for s in res['stages']:
        for key in ('spearman', 'kendall'):
            assert s[key] is None or -1 <= s[key] <= 1
        assert s['seconds'] > 0
    # the ceiling is the proxy's own seed-0 vs seed-1 Spearman
    proxy = np.array([c['proxy'] for c in res['per_cell']])
    assert res['proxy_seed_spearman'] == pytest.approx(ceiling(proxy))
    for c in res['per_cell']:
        for seed in range(2):
            rec = json.loads((wd / 'proxy' / f'{c["arch_hash"]}-s{seed}' /
                              'result.json').read_text())
            assert rec['metrics']['mIoU'] == c['proxy'][seed]
        assert set(names) <= set(c)
    table = (wd / 'cheap_fidelity.md').read_text()
    assert '| one_shot:rate_pair | 4 |' in table and 'ceiling' in table
    assert (wd / 'cheap_fidelity.png').read_bytes()[:4] == b'\x89PNG'
    assert '[fidelity] | naswot | 4 |' in out
    # the same command again trains and scores nothing
    again = run_tool(*args).stdout
    assert 'proxy: 8 runs done before, 0 to train' in again
    assert 'supernet: kept' in again
    assert again.count('4 scored before, 0 to score') == 3
    assert json.loads((wd / 'cheap_fidelity.json').read_text())[
        'per_cell'] == res['per_cell']
    # another supernet schedule, key by key: the supernet alone is trained
    # again and its cells scored again; the proxy runs and zero-cost scores
    # are kept
    longer = run_tool(*args, *[f'supernet_cfg_options.{o}' for o in
                               schedule_options(4)]).stdout
    assert 'proxy: 8 runs done before, 0 to train' in longer
    assert 'supernet: training' in longer
    assert 'train_cfg.max_iters' in longer  # the key that differs, named
    assert longer.count('4 scored before, 0 to score') == 2
    assert '0 scored before, 4 to score' in longer


def test_supernet_options_are_gathered_key_by_key():
    assert nested_options({'bn_batches': 2,
                           'supernet_cfg_options.train_cfg.max_iters': 9,
                           'supernet_cfg_options.param_scheduler.0.end': 9}
                          ) == {'bn_batches': 2, 'supernet_cfg_options': {
                              'train_cfg.max_iters': 9,
                              'param_scheduler.0.end': 9}}
    with pytest.raises(ValueError, match='give its keys one by one'):
        nested_options({'supernet_cfg_options': 3,
                        'supernet_cfg_options.train_cfg.max_iters': 9})
    for key in ('supernet_cfg_options.', 'supernet_cfg_options.train_cfg.',
                'supernet_cfg_options.train_cfg..max_iters'):
        empty = re.escape(f'{key!r} has an empty key')
        with pytest.raises(ValueError, match=empty):
            nested_options({key: 9})


def test_fidelity_tool_names_an_unknown_cheap_stage(tmp_path, feature_cache,
                                                    shapes_root):
    cfg = search_config(tmp_path, feature_cache, shapes_root)
    wd = tmp_path / 'fidelity'
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/proxy_fidelity.py', cfg,
         '--work-dir', str(wd), '--cheap', 'naswat'], cwd=REPO,
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "unknown stage 'naswat'" in proc.stderr
    assert not wd.exists()
