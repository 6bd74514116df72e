"""tools/analysis/proxy_fidelity.py on a tiny setting: real processes on
generated data, correlations with intervals, resume without retraining."""
import json

import numpy as np
import pytest

from mmseg_dpc.analysis.fidelity import summarize

from ..conftest import run_tool
from ..test_search.conftest import feature_cache  # noqa: F401 (fixture)
from ..test_search.test_search_tool import rerank_options, search_config


def test_summary_of_known_rankings():
    rng = np.random.default_rng(0)
    truth = np.arange(20, dtype=float)
    full = truth[:, None] + rng.normal(0, 0.1, (20, 2))
    same = summarize(full + 5.0, full)
    assert same['spearman'] == pytest.approx(1.0)
    lo, hi = same['spearman_ci95']
    assert lo <= 1.0 <= hi + 1e-9
    noise = summarize(rng.normal(0, 1, (20, 2)), full)
    assert noise['spearman_ci95'][0] < 0 < noise['spearman_ci95'][1]
    assert noise['full_seed_std'] == pytest.approx(
        full.std(axis=1, ddof=1).mean())
    assert noise['full_seed_spearman'] > 0.99


def test_fidelity_tool_tiny_and_resumable(tmp_path, feature_cache,
                                          shapes_root):
    cfg = search_config(tmp_path, feature_cache, shapes_root,
                        rerank=rerank_options(shapes_root, 1, 4))
    wd = tmp_path / 'fidelity'
    args = ['tools/analysis/proxy_fidelity.py', cfg, '--work-dir', str(wd),
            '--cells', '3', '--seeds', '2', '--workers', '2']
    out = run_tool(*args).stdout
    assert 'proxy: 0 runs done before, 6 to train' in out
    assert 'full: 0 runs done before, 6 to train' in out
    assert '[fidelity] Spearman ' in out and '95% CI' in out
    # no run failed: nothing reads as a failure, and an undefined
    # interval says why
    assert 'fail' not in out.lower(), out
    assert '3 cells x 2 seeds, ' in out
    assert '95% CI n/a, n/a' not in out
    assert '(n = 3: says nothing)' in out
    result = json.loads((wd / 'fidelity.json').read_text())
    assert result['cells'] == 3 and result['seeds'] == 2
    assert len(result['per_cell']) == 3
    assert len({c['arch_hash'] for c in result['per_cell']}) == 3
    for c in result['per_cell']:
        assert len(c['proxy']) == 2 and len(c['full']) == 2
        for stage in ('proxy', 'full'):
            for seed in range(2):
                run = wd / stage / f'{c["arch_hash"]}-s{seed}'
                rec = json.loads((run / 'result.json').read_text())
                assert rec['status'] == 'COMPLETE'
                assert rec['metrics']['mIoU'] == c[stage][seed]
                assert f'seed={seed}' in (run / 'config.py').read_text()
    for key in ('spearman', 'kendall'):
        assert result[key] is None or -1 <= result[key] <= 1
    assert result['full_seed_std'] is not None
    assert (wd / 'fidelity.png').read_bytes()[:4] == b'\x89PNG'
    # the same command again trains nothing
    mtimes = {p: p.stat().st_mtime for p in wd.glob('*/*/result.json')}
    again = run_tool(*args).stdout
    assert 'proxy: 6 runs done before, 0 to train' in again
    assert 'full: 6 runs done before, 0 to train' in again
    assert {p: p.stat().st_mtime for p in wd.glob('*/*/result.json')} == \
        mtimes
    assert json.loads((wd / 'fidelity.json').read_text())['per_cell'] == \
        result['per_cell']


def test_summary_of_few_cells_is_undefined_without_warnings():
    """Three cells: the bootstrap's resamples repeat cells, so the interval
    is undefined (None, which the tool words) and scipy's warnings about it
    stay off the console."""
    import warnings
    proxy = np.array([[1.0, 1.1], [2.0, 2.1], [3.0, 2.9]])
    full = np.array([[1.0, 1.2], [3.0, 3.1], [2.0, 2.2]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        s = summarize(proxy, full)
        flat = summarize(np.ones((3, 2)), np.ones((3, 2)))
    assert [str(w.message) for w in caught] == []
    assert s['spearman'] == pytest.approx(0.5)
    assert s['spearman_ci95'] == [None, None]
    assert flat['spearman'] is None and flat['full_seed_spearman'] is None
