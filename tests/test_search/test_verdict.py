"""The verdict over seeds: rule, and the search's final comparison with
real processes on generated data."""
import json
import os

import pytest

from mmseg_dpc.search import Architecture
from mmseg_dpc.search.verdict import compare

from ..conftest import REPO, run_tool
from .test_search_tool import rerank_options, search_config

ASPP = (f'{REPO}/configs/deeplabv3plus/deeplabv3plus_mobilenet-v2-d16_'
        '1xb8-300_synthetic-shapes-128x128.py')
DPC = f'{REPO}/configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py'


def test_the_rule_is_twice_the_pooled_seed_std():
    # stds 1 and 1: threshold 2
    better = compare([50, 51, 52], [47, 48, 49])
    assert better['verdict'] == 'better'
    assert better['difference'] == pytest.approx(3)
    assert better['threshold'] == pytest.approx(2)
    assert 0 < better['welch_p'] < 0.05
    same = compare([50, 51, 52], [49, 50, 51])
    assert same['verdict'] == 'indistinguishable'
    assert compare([47, 48, 49], [50, 51, 52])['verdict'] == 'worse'
    # unequal spread: pooled, sqrt((0 + 4) / 2) * 2 = 2.83 > 2.5
    assert compare([50, 50, 50], [45.5, 47.5, 49.5])['verdict'] == \
        'indistinguishable'
    assert compare([50, 50], [50, 50])['welch_p'] is None
    with pytest.raises(ValueError, match='two or more seeds'):
        compare([50], [49, 48])


def test_the_search_trains_its_verdict_over_seeds(tmp_path, feature_cache,
                                                  shapes_root):
    rerank = rerank_options(shapes_root, 2, 6)
    verdict = dict(seeds=2, median_cell=True,
                   baselines={'mmseg ASPP': ASPP, 'released cell': DPC})
    cfg = search_config(tmp_path, feature_cache, shapes_root, rerank=rerank,
                        verdict=verdict)
    wd = tmp_path / 'work'
    proc = run_tool('tools/search.py', cfg, '--work-dir', str(wd),
                    '--workers', '2')
    assert '4 models x 2 seeds (seeds 1-2)' in proc.stdout
    board = json.loads((wd / 'leaderboard.json').read_text())
    rr = json.loads((wd / 'rerank.json').read_text())
    v = json.loads((wd / 'verdicts.json').read_text())
    assert v['seeds'] == [1, 2]
    assert len(v['models']) == 4
    searched, median, aspp, released = v['models']
    best = max(rr['trials'], key=lambda r: r['full_mIoU'])
    assert searched['role'] == 'searched'
    assert searched['arch_hash'] == best['arch_hash']
    assert median['role'] == 'median'
    assert median['arch_hash'] == board[len(board) // 2]['arch_hash']
    assert (aspp['name'], aspp['head_type'], aspp['arch_hash']) == (
        'mmseg ASPP', 'DepthwiseSeparableASPPHead', None)
    assert released['head_type'] == 'DPCHead'
    assert released['arch_hash'] == Architecture(_released_arch()).hash
    for m in v['models']:
        assert m['seeds'] == [1, 2] and len(m['mIoU']) == 2, m
        assert m['mean'] == pytest.approx(sum(m['mIoU']) / 2)
        assert m['std'] == pytest.approx(abs(m['mIoU'][0] - m['mIoU'][1])
                                         / 2 ** 0.5)
        assert m['head_params'] > 0 and m['head_flops'] > 0
        # each run: its seed and its model's head, from the same start
        for seed, run in zip(m['seeds'], m['runs']):
            assert run.endswith(f'-s{seed}')
            text = open(os.path.join(run, 'config.py')).read()
            assert f'seed={seed}' in text
            assert m['head_type'] in text
            res = json.load(open(os.path.join(run, 'result.json')))
            assert res['status'] == 'COMPLETE'
            assert res['arch_hash'] == m['arch_hash']
    # the counted head cost of a DPC model equals the closed form
    from mmengine.config import Config

    from mmseg_dpc.search.cost import model_head_cost
    full = Config.fromfile(DPC)
    arch = Architecture(searched['arch'])
    assert searched['head_flops'] == model_head_cost(full, (128, 128))(
        arch.branches)['flops']
    assert [c['against'] for c in v['comparisons']] == [
        median['name'], 'mmseg ASPP', 'released cell']
    for c, other in zip(v['comparisons'], v['models'][1:]):
        assert c['verdict'] in ('better', 'worse', 'indistinguishable')
        assert c['difference'] == pytest.approx(searched['mean'] -
                                                other['mean'])
        assert c['flops_ratio'] == pytest.approx(searched['head_flops'] /
                                                 other['head_flops'])
    assert f'vs mmseg ASPP: {v["comparisons"][1]["verdict"].upper()}' in \
        proc.stdout
    # the report's table
    run_tool('tools/analysis/search_report.py', str(wd))
    report = (wd / 'report.md').read_text()
    assert '## Verdict over seeds' in report
    assert 'seeds 1, 2' in report
    assert f'**{v["comparisons"][1]["verdict"]}**' in report

    # again: nothing is retrained
    stamps = {r: os.path.getmtime(os.path.join(r, 'result.json'))
              for m in v['models'] for r in m['runs']}
    again = run_tool('tools/search.py', cfg, '--work-dir', str(wd),
                     '--workers', '2', '--resume')
    assert '8 trained before, 0 to train' in again.stdout
    assert stamps == {r: os.path.getmtime(os.path.join(r, 'result.json'))
                      for r in stamps}


def _released_arch():
    from mmengine.config import Config
    return Config.fromfile(DPC).model.decode_head.arch


def test_a_verdict_needs_rerank_and_names_bad_keys(tmp_path, feature_cache,
                                                   shapes_root):
    from mmengine.config import Config

    from mmseg_dpc.search.settings import SearchSettings
    cfg = Config.fromfile(search_config(tmp_path, feature_cache,
                                        shapes_root))
    cfg.verdict = dict(seeds=3)
    with pytest.raises(ValueError, match='verdict needs rerank'):
        SearchSettings.from_config(cfg)
    cfg.rerank = dict(rerank_options(shapes_root, 2, 6), full_config=DPC)
    for bad, match in ((dict(seeds=1), 'verdict.seeds must be >= 2'),
                       (dict(seed=3), "unknown keys \\['seed'\\]"),
                       (dict(baselines={'aspp': 'nope.py'}),
                        "verdict.baselines.aspp.*'nope.py' not found"),
                       (dict(median_cell=1), 'median_cell must be')):
        cfg.verdict = bad
        with pytest.raises(ValueError, match=match):
            SearchSettings.from_config(cfg)
