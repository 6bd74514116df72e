"""The verdict over seeds: the race on hand-made numbers (a trainer
function returning them), one formatter for console and report, and the
search's final comparison with real processes on generated data."""
import json
import os
import re

import numpy as np
import pytest

from mmseg_dpc.search import Architecture
from mmseg_dpc.search.comparison import BETTER, INDISTINGUISHABLE, WORSE
from mmseg_dpc.search.verdict import (RaceRound, judge, race, verdict_lines,
                                      verdict_tables)

from ..conftest import REPO, run_tool
from .test_search_tool import rerank_options, search_config

ASPP = (f'{REPO}/configs/deeplabv3plus/deeplabv3plus_mobilenet-v2-d16_'
        '1xb8-300_synthetic-shapes-128x128.py')
DPC = f'{REPO}/configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py'


# hand-made numbers: a seed's share of the noise, common to all models,
# and the searched cell 'S' minus each model, seed by seed
BASE = dict(zip(range(1, 9), [80.0, 82.0, 78.5, 81.0, 79.5, 80.5, 81.5,
                              79.0]))
DIFF = dict(clear=[-3.0, -3.1, -2.9, -3.0, -3.0, -3.0, -3.0, -3.0],
            late=[1.0, 2.0, 0.2, 1.0, 1.1, 0.9, 1.0, 1.0],
            close=[0.5, -0.3, 0.9, -0.6, 0.2, -0.4, 0.3, 0.1])


def trainer(fail=()):
    """A round's trainer on the hand-made numbers, keeping its calls;
    the runs in ``fail`` fail."""
    calls = []

    def train(runs):
        calls.append(list(runs))
        return {(m, s): None if (m, s) in fail else
                BASE[s] - (0 if m == 'S' else DIFF[m][s - 1])
                for m, s in runs}
    return train, calls


def test_the_race_stops_decided_models_and_continues_undecided_ones():
    train, calls = trainer()
    rounds = []
    r = race(train, 'S', ['clear', 'late', 'close'], [1, 2, 3], 6,
             after_round=lambda done, v: rounds.append(
                 (done.seeds, {n: x.verdict for n, x in v.items()})))
    # every model with the minimum seeds, then one seed a round for the
    # searched cell and the undecided: 'clear' is decided after 3 seeds,
    # 'late' after 5, 'close' never (the cap, 6, ends the race)
    assert calls == [[(m, s) for m in ('S', 'clear', 'late', 'close')
                      for s in (1, 2, 3)],
                     [('S', 4), ('late', 4), ('close', 4)],
                     [('S', 5), ('late', 5), ('close', 5)],
                     [('S', 6), ('close', 6)]]
    assert [x[0] for x in rounds] == [(1, 2, 3), (4,), (5,), (6,)]
    assert rounds[0][1] == dict(clear=WORSE, late=INDISTINGUISHABLE,
                                close=INDISTINGUISHABLE)
    assert rounds[2][1]['late'] == BETTER
    assert r.rounds == (RaceRound((1, 2, 3), ('S', 'clear', 'late',
                                              'close')),
                        RaceRound((4,), ('S', 'late', 'close')),
                        RaceRound((5,), ('S', 'late', 'close')),
                        RaceRound((6,), ('S', 'close')))
    assert r.tried == dict(S=(1, 2, 3, 4, 5, 6), clear=(1, 2, 3),
                           late=(1, 2, 3, 4, 5), close=(1, 2, 3, 4, 5, 6))
    assert r.mIoU['late'] == {s: BASE[s] - DIFF['late'][s - 1]
                              for s in range(1, 6)}
    v = r.verdicts
    assert (v['clear'].verdict, v['late'].verdict, v['close'].verdict) == (
        WORSE, BETTER, INDISTINGUISHABLE)
    # paired on the seeds both have: 'clear' on seeds 1-3, exactly -3
    assert v['clear'].difference.seeds == (3, 3)
    assert v['clear'].difference.difference == pytest.approx(-3.0)
    assert v['late'].difference.ci[0] > 0
    close = v['close'].difference
    assert close.ci[0] < 0 < close.ci[1] and close.detectable > 0
    # the verdict is the comparison's on the race's numbers
    again = judge(r.mIoU, 'S', ['clear', 'late', 'close'])
    assert {n: x.p_holm for n, x in again.items()} == \
        {n: x.p_holm for n, x in v.items()}


def test_the_race_is_capped_skips_failed_seeds_and_can_be_off():
    # max_seeds = seeds: one round, as the verdict trained before racing
    train, calls = trainer()
    r = race(train, 'S', ['clear', 'close'], [1, 2, 3], 3)
    assert len(calls) == 1 and len(r.rounds) == 1
    # a failed run counts as tried: the race goes on with the next seed
    # and pairs on the seeds both completed
    train, calls = trainer(fail={('close', 4)})
    r = race(train, 'S', ['close'], [1, 2, 3], 5)
    assert calls[1:] == [[('S', 4), ('close', 4)],
                         [('S', 5), ('close', 5)]]
    assert r.tried['close'] == (1, 2, 3, 4, 5)
    assert sorted(r.mIoU['close']) == [1, 2, 3, 5]
    assert r.verdicts['close'].difference.seeds == (4, 4)
    # fewer than two seeds completed: no verdict, and the race goes on
    train, calls = trainer(fail={('close', 1), ('close', 2)})
    r = race(train, 'S', ['close'], [1, 2], 4)
    assert len(calls) == 3 and r.verdicts['close'] is not None
    assert sorted(r.mIoU['close']) == [3, 4]
    train, calls = trainer(fail={('close', s) for s in (1, 2, 3)})
    r = race(train, 'S', ['close'], [1, 2], 3)
    assert r.verdicts == dict(close=None) and r.tried['close'] == (1, 2, 3)
    # unpaired: Welch's test on all of each
    train, _ = trainer()
    r = race(train, 'S', ['clear'], [1, 2, 3], 3, paired=False)
    assert not r.verdicts['clear'].difference.paired


def test_one_formatter_for_console_and_report():
    train, _ = trainer()
    r = race(train, 'S', ['clear', 'late', 'close'], [1, 2, 3], 6)
    models, comparisons = verdict_tables(_report(r))
    lines = verdict_lines(_report(r))
    md = '\n'.join(models.markdown() + comparisons.markdown())
    # every value of the comparisons' table on the console and in markdown
    for row in comparisons.rows:
        line = next(x for x in lines if x.startswith(row[0] + ': '))
        for value in row[1:]:
            assert value.upper() in line if value == row[1] else \
                value in line, (value, line)
            assert value in md
    late = next(x for x in comparisons.rows if x[0] == 'S vs late')
    d = r.verdicts['late'].difference
    assert late[1:6] == (
        'better', f'{d.difference:+.2f}',
        f'[{d.ci[0]:+.2f}, {d.ci[1]:+.2f}] ({100 * d.confidence:.3g}%)',
        f'{r.verdicts["late"].p_holm:.3f}', '5 paired')
    assert 'S vs late: BETTER, +' in '\n'.join(lines)
    assert '| S vs late | **better** |' in md
    close = next(x for x in comparisons.rows if x[0] == 'S vs close')
    assert close[7] == f'{r.verdicts["close"].difference.detectable:.2f}'
    assert lines[0].startswith('S: mIoU ') and 'seeds 1-6' in lines[0]


def _report(r):
    """A verdicts.json-like summary of a race of hand-made numbers (as
    the verdict writes it, head costs aside)."""
    rows = [dict(name=m, arch_hash=None, head_type='DPCHead',
                 seeds=sorted(r.mIoU[m]), mIoU=list(r.mIoU[m].values()),
                 mean=float(np.mean(list(r.mIoU[m].values()))),
                 std=float(np.std(list(r.mIoU[m].values()), ddof=1)),
                 head_params=None, head_flops=None, failed=[])
            for m in r.mIoU]
    comps = [dict(against=n, verdict=v.verdict,
                  difference=v.difference.difference,
                  ci=list(v.difference.ci),
                  confidence=v.difference.confidence, p=v.difference.p,
                  p_holm=v.p_holm, paired=v.difference.paired,
                  seeds=list(v.difference.seeds),
                  detectable=v.difference.detectable,
                  effect=v.difference.effect)
             for n, v in r.verdicts.items()]
    return dict(models=rows, comparisons=comps)


def test_the_search_trains_its_verdict_over_seeds(tmp_path, feature_cache,
                                                  shapes_root):
    rerank = rerank_options(shapes_root, 2, 6)
    verdict = dict(seeds=2, max_seeds=3, median_cell=True,
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
    assert v['seeds'][:2] == [1, 2] and len(v['seeds']) <= 3
    assert (v['min_seeds'], v['max_seeds'], v['paired']) == (2, 3, True)
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
    # the race: all four with seeds 1-2, then seed 3 for the searched cell
    # and exactly the models whose comparison was undecided on seeds 1-2
    names = [m['name'] for m in v['models']]
    assert v['rounds'][0] == dict(seeds=[1, 2], models=names)
    first = judge({m['name']: {s: x for s, x in zip(m['seeds'], m['mIoU'])
                               if s <= 2} for m in v['models']},
                  names[0], names[1:])
    undecided = [n for n in names[1:] if not first[n].decided]
    assert v['rounds'][1:] == ([dict(seeds=[3], models=names[:1] +
                                     undecided)] if undecided else [])
    for m in v['models']:
        raced = [s for r in v['rounds'][1:] if m['name'] in r['models']
                 for s in r['seeds']]
        assert m['seeds'] == [1, 2] + raced, m
        assert len(m['mIoU']) == len(m['seeds'])
        assert m['mean'] == pytest.approx(np.mean(m['mIoU']))
        assert m['std'] == pytest.approx(np.std(m['mIoU'], ddof=1))
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
    mine = dict(zip(searched['seeds'], searched['mIoU']))
    for c, other in zip(v['comparisons'], v['models'][1:]):
        assert c['verdict'] in ('better', 'worse', 'indistinguishable')
        # paired on the seeds both have
        theirs = dict(zip(other['seeds'], other['mIoU']))
        both = sorted(set(mine) & set(theirs))
        assert c['paired'] and c['seeds'] == [len(both)] * 2
        assert c['difference'] == pytest.approx(
            np.mean([mine[s] - theirs[s] for s in both]))
        low, high = c['ci']
        assert low <= c['difference'] <= high
        assert (low > 0) == (c['verdict'] == 'better')
        assert (high < 0) == (c['verdict'] == 'worse')
        assert c['flops_ratio'] == pytest.approx(searched['head_flops'] /
                                                 other['head_flops'])
    assert f'vs mmseg ASPP: {v["comparisons"][1]["verdict"].upper()}' in \
        proc.stdout
    # the report's table: the console's values, formatted once
    run_tool('tools/analysis/search_report.py', str(wd))
    report = (wd / 'report.md').read_text()
    assert '## Verdict over seeds' in report
    assert 'seeds 1, 2' in report
    assert f'**{v["comparisons"][1]["verdict"]}**' in report
    for c in v['comparisons']:
        interval = f'[{c["ci"][0]:+.2f}, {c["ci"][1]:+.2f}]'
        assert interval in report and interval in proc.stdout

    # again: nothing is retrained
    stamps = {r: os.path.getmtime(os.path.join(r, 'result.json'))
              for m in v['models'] for r in m['runs']}
    again = run_tool('tools/search.py', cfg, '--work-dir', str(wd),
                     '--workers', '2', '--resume')
    assert '8 trained before, 0 to train' in again.stdout
    planned = re.findall(r'(\d+) trained before, (\d+) to train',
                         again.stdout)
    assert [n for _, n in planned] == ['0'] * len(v['rounds'])
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
                       (dict(median_cell=1), 'median_cell must be'),
                       (dict(paired='yes'), 'verdict.paired must be True'),
                       (dict(max_seeds=2), 'verdict.max_seeds must be >= '
                        'verdict.seeds \\(3\\), got 2'),
                       (dict(seeds=2, max_seeds=4.0),
                        'verdict.max_seeds must be an integer')):
        cfg.verdict = bad
        with pytest.raises(ValueError, match=match):
            SearchSettings.from_config(cfg)
    cfg.verdict = dict(seeds=2)
    v = SearchSettings.from_config(cfg).verdict
    assert (v.seeds, v.max_seeds, v.paired) == (2, 2, True)
