"""tools/analysis/seed_noise.py on a tiny setting: each model under each
ablation over seeds, through the full task's runner, resumable."""
import json

from ..conftest import REPO, run_tool
from ..test_search.conftest import feature_cache  # noqa: F401 (fixture)
from ..test_search.test_search_tool import rerank_options, search_config

DPC = 'configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py'
ASPP = ('configs/deeplabv3plus/deeplabv3plus_mobilenet-v2-d16_1xb8-300_'
        'synthetic-shapes-128x128.py')


def test_seed_noise_tiny_and_resumable(tmp_path, feature_cache,
                                       shapes_root):
    cfg = search_config(
        tmp_path, feature_cache, shapes_root,
        rerank=rerank_options(shapes_root, 1, 3),
        verdict=dict(seeds=2, baselines={
            'mmseg ASPP head': f'{REPO}/{ASPP}',
            'released top-1 cell': f'{REPO}/{DPC}'}))
    wd = tmp_path / 'noise'
    args = ['tools/analysis/seed_noise.py', cfg, '--work-dir', str(wd),
            '--seeds', '2', '--cells', '1', '--ablations', 'as_is',
            'no_cell_dropout', 'long', '--workers', '2']
    out = run_tool(*args).stdout
    # released and uniform: 3 ablations x 2 seeds; ASPP has no cell dropout
    assert '[noise] 0 runs done before, 16 to train' in out
    table = json.loads((wd / 'seed_noise.json').read_text())
    rows = {(r['model'], r['ablation']): r for r in table['rows']}
    assert len(rows) == 8 and table['seeds'] == [1, 2]
    assert ('mmseg ASPP head', 'no_cell_dropout') not in rows
    for r in rows.values():
        assert len(r['miou']) == 2 and r['std'] is not None
    run = next(wd.glob('model0/no_cell_dropout-s1'))
    assert 'cell_dropout_ratio=0.0' in (run / 'config.py').read_text()
    long = next(wd.glob('model0/long-s2'))
    assert 'max_iters=6' in (long / 'config.py').read_text()
    assert json.loads((long / 'result.json').read_text())['metrics'][
        'step'] == 6
    md = (wd / 'seed_noise.md').read_text()
    assert '| no_cell_dropout |' in md and 'DPC std / ASPP std' in md
    assert 'DPC heads pooled / ASPP (95% CI)' in md
    assert 'Seeds for a +-1.0 mIoU interval' in md
    again = run_tool(*args).stdout
    assert '[noise] 16 runs done before, 0 to train' in again


def test_a_table_without_aspp_rows_says_n_a():
    """A DPC-only table (the ASPP runs failed, or none were asked for) is
    still written, its ratios n/a."""
    from mmseg_dpc.tools.analysis.seed_noise import markdown
    rows = [dict(model='released cell', dpc=True, ablation='no_cell_dropout',
                 change='', miou=[80.0, 82.0], mean=81.0, std=1.41)]
    md = markdown(dict(seeds=[1, 2], rows=rows))
    assert '| no_cell_dropout | 1.41 (81.00) | n/a | n/a |' in md
