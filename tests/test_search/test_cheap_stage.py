"""Search strategies with a cheap stage (one_shot, zero_cost): real driver
processes on a generated cache; the scores are records in the work dir and
the best cells are the ones the proxy trains."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.config import Config

from mmseg_dpc.search import Architecture, DPCSearchSpace
from mmseg_dpc.search.cheap_stage import (SCORES_FILE, ScoresFile, ranked,
                                          read_scores, uniform_candidates)

from ..conftest import REPO, run_tool
from .test_search_tool import complete, load, search_config

SPACE3 = dict(type='DPCSearchSpace', num_branches=3, rates=(1, 3),
              grids=(1, 2))


def cheap_config(tmp_path, cache, shapes_root, strategy, **extra):
    extra.setdefault('num_trials', 2)
    return search_config(tmp_path, cache, shapes_root, strategy=strategy,
                         **extra)


def scores_lines(work_dir):
    path = os.path.join(work_dir, SCORES_FILE)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f.read().splitlines()
                if line.strip()]


def trained_hashes(work_dir):
    return sorted(t.user_attrs['arch_hash'] for t in complete(load(work_dir)))


def test_zero_cost_search_trains_the_best_scored_cells(tmp_path,
                                                       feature_cache,
                                                       shapes_root):
    cfg = cheap_config(tmp_path, feature_cache, shapes_root,
                       dict(type='zero_cost', score='naswot', candidates=10,
                            write_every=3, seed=5))
    wd = tmp_path / 'work'
    out = run_tool('tools/search.py', cfg, '--work-dir', str(wd)).stdout
    assert '10 to score' in out and 'proposed the best 2 cells' in out
    lines = scores_lines(wd)
    space = DPCSearchSpace(num_branches=2, rates=(1, 3), grids=(1, 2))
    cells = uniform_candidates(space, 10, seed=5)
    assert sorted(r['hash'] for r in lines) == sorted(a.hash for a in cells)
    assert all(r['params'] > 0 and r['flops'] > 0 for r in lines)
    scores = read_scores(str(wd))
    best = [s.hash for s in ranked(scores)[:2]]
    # the proxy trained the two best-scored cells, and nothing else
    assert trained_hashes(wd) == sorted(best)
    study = load(wd)
    assert set(study.user_attrs['cheap_scores']) == set(best)
    assert study.user_attrs['cheap_stage']['score'] == 'naswot'
    # the report shows the score against proxy mIoU of the trained cells
    from mmseg_dpc.analysis.report import write_report
    text = open(write_report(str(wd))).read()
    assert '## Cheap stage: zero_cost (naswot)' in text
    assert '10 candidates scored; the proxy trained 2' in text
    assert (wd / 'report' / 'cheap_vs_proxy.png').stat().st_size > 0
    # the same command again: nothing scored or trained twice
    out = run_tool('tools/search.py', cfg, '--work-dir', str(wd)).stdout
    assert '10 scored before, 0 to score' in out
    assert '(2 in the study already)' in out
    assert len(scores_lines(wd)) == len(cells)
    assert len(complete(load(wd))) == 2


@pytest.mark.processes
def test_one_shot_search_killed_while_scoring_resumes(tmp_path,
                                                      feature_cache,
                                                      shapes_root):
    """The driver is SIGKILLed once the scores file holds a batch; the same
    command again keeps the supernet, scores only the cells the file lacks
    (every cell once) and trains the best."""
    cfg = cheap_config(tmp_path, feature_cache, shapes_root,
                       dict(type='one_shot', candidates=400, write_every=5,
                            bn_batches=2),
                       search_space=SPACE3)
    wd = tmp_path / 'work'
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.Popen(
        [sys.executable, 'tools/search.py', cfg, '--work-dir', str(wd)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 400
        while not scores_lines(wd):
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            assert time.time() < deadline, 'no score within 400 s'
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = scores_lines(wd)
    space = DPCSearchSpace(num_branches=3, rates=(1, 3), grids=(1, 2))
    cells = uniform_candidates(space, 400, seed=0)
    assert 0 < len(before) < len(cells), 'not killed while scoring'
    assert len(before) % 5 == 0  # whole batches
    assert os.path.exists(wd / 'supernet' / 'result.json')

    out = run_tool('tools/search.py', cfg, '--work-dir', str(wd)).stdout
    assert 'supernet: kept' in out
    assert f'{len(before)} scored before, {len(cells) - len(before)} ' \
        'to score' in out
    after = scores_lines(wd)
    hashes = [r['hash'] for r in after]
    assert len(hashes) == len(set(hashes)), 'a cell was scored twice'
    assert set(hashes) == {a.hash for a in cells}
    assert after[:len(before)] == before  # earlier records untouched
    best = [s.hash for s in ranked(read_scores(str(wd)))[:2]]
    assert trained_hashes(wd) == sorted(best)
    # a supernet of the 3-branch space is in the work dir
    ckpt = open(wd / 'supernet' / 'last_checkpoint').read().strip()
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    extra = state['state_dict']['decode_head.supernet._extra_state']
    assert extra['num_branches'] == 3


def other_space_checkpoint(path):
    """A saved supernet of another space (2 branches, rates 1 and 6)."""
    from mmseg.registry import MODELS
    head = MODELS.build(dict(
        type='DPCSupernetHead', num_branches=2, rates=(1, 6), grids=(1, 2),
        in_channels=160, channels=8, num_classes=5,
        norm_cfg=dict(type='BN', requires_grad=True)))
    torch.save({'state_dict': {f'decode_head.{k}': v
                               for k, v in head.state_dict().items()}},
               path)
    return str(path)


class _MakesADirectory:
    """Unpickled without weights-only loading, this runs ``os.mkdir``."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path, )


def unsafe_checkpoint(path, marker):
    """A checkpoint whose loading would run code (make ``marker``) unless
    weights-only loading refuses it."""
    torch.save({'state_dict': {}, 'meta': _MakesADirectory(str(marker))},
               path)
    return str(path)


@pytest.mark.parametrize('strategy, match', [
    (dict(type='zero_cost', score='naswat', candidates=4),
     "strategy.score: unknown zero-cost score 'naswat'; known: .*naswot"),
    (dict(type='zero_cost', candidates=4), "needs score"),
    (dict(type='one_shot', candidates=0), 'candidates must be >= 1'),
    (dict(type='zero_cost', score='naswot'), 'needs candidates'),
    (dict(type='one_shot', candidates=1), r'candidates \(1\) must be >= '
     r'num_trials \(2\)'),
    (dict(type='one_shot', candidates=4, sharing='op'), 'sharing must be'),
    (dict(type='one_shot', candidates=4, supernet_checkpoint='/no/such'),
     'supernet_checkpoint: no checkpoint'),
    (dict(type='zero_cost', score='naswot', candidates=4, sharing='op'),
     "unknown keys \\['sharing'\\]"),
    (dict(type='one_shot', candidates=4, bn_batches=5),
     r'bn_batches x bn_batch_size = 5 x 4 = 20 maps, the cached train '
     r'split holds 16'),
    (dict(type='one_shot', candidates=4, num_val=9), 'val split holds 8'),
    (dict(type='zero_cost', score='naswot', candidates=4, batch_size=17),
     'train split holds 16'),
    ('other-space', r'another space \(search space vs supernet: rates '
     r'\(1, 3\) vs \(1, 6\)'),
    ('unsafe', 'supernet_checkpoint: .*holds objects that weights-only '
     'loading refuses'),
])
def test_bad_cheap_settings_are_named_before_anything_exists(
        tmp_path, feature_cache, shapes_root, strategy, match):
    from mmseg_dpc.search.driver import SearchDriver
    if strategy == 'other-space':
        strategy = dict(type='one_shot', candidates=4,
                        supernet_checkpoint=other_space_checkpoint(
                            tmp_path / 'other.pth'))
    marker = tmp_path / 'code-ran'
    if strategy == 'unsafe':
        strategy = dict(type='one_shot', candidates=4,
                        supernet_checkpoint=unsafe_checkpoint(
                            tmp_path / 'unsafe.pth', marker))
    cfg = Config.fromfile(cheap_config(tmp_path, feature_cache, shapes_root,
                                       strategy))
    wd = tmp_path / 'work'
    with pytest.raises(ValueError, match=match):
        SearchDriver(cfg, str(wd))
    assert not wd.exists()
    assert not marker.exists()  # the checkpoint's code never ran


def test_scores_file_drops_a_torn_line_and_reads_by_settings(tmp_path):
    from mmseg_dpc.search.cheap_stage import CheapScore
    space = DPCSearchSpace(num_branches=2, rates=(1, 3), grids=(1, 2))
    a, b, c = uniform_candidates(space, 3, seed=1)
    f = ScoresFile(str(tmp_path / SCORES_FILE))
    f.append([CheapScore(0, a, 1.5, 10, 20, 'x'),
              CheapScore(1, b, float('-inf'), 10, 20, 'y')])
    with open(f.path, 'a') as fh:
        fh.write('{"index": 2, "hash"')  # a kill mid-write
    assert [s.arch for s in f.read('x')] == [a]
    assert [s.score for s in f.read()] == [1.5, float('-inf')]
    f.append([CheapScore(2, c, 0.5, 1, 2, 'x')])
    assert [s.arch for s in f.read('x')] == [a, c]
    # best first, non-finite last
    assert [s.index for s in ranked(f.read())] == [0, 2, 1]
    assert Architecture(f.read()[0].arch.to_list()) == a


@pytest.mark.processes
def test_two_drivers_of_a_zero_cost_search_share_a_postgres_study(
        tmp_path, feature_cache, shapes_root, postgres_url):
    """Both drivers score the same candidates and propose the same best
    cells to one study: it ends with exactly those, each trained once."""
    from .test_search_tool import assert_exact_and_distinct
    cfg = cheap_config(tmp_path, feature_cache, shapes_root,
                       dict(type='zero_cost', score='synflow',
                            candidates=10), num_trials=3,
                       study_name='cheap-two-drivers')
    drivers = [subprocess.Popen(
        [sys.executable, 'tools/search.py', cfg, '--work-dir',
         str(tmp_path / f'driver{i}'), '--storage', postgres_url], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(2)]
    outs = [d.communicate(timeout=600)[0] for d in drivers]
    assert [d.returncode for d in drivers] == [0, 0], outs
    study = load(None, postgres_url, 'cheap-two-drivers')
    assert_exact_and_distinct(study, 3)
    best = {s.hash for s in ranked(read_scores(str(tmp_path / 'driver0')))
            [:3]}
    assert {s.hash for s in ranked(read_scores(
        str(tmp_path / 'driver1')))[:3]} == best
    assert {t.user_attrs['arch_hash'] for t in complete(study)} == best


@pytest.mark.processes
def test_one_shot_search_on_a_local_ray_runtime_with_a_pruner(
        tmp_path, feature_cache, shapes_root):
    """The supernet trains as a Ray task like any trial; the proposed
    cells are trained (and may be pruned) as any strategy's."""
    cfg = cheap_config(
        tmp_path, feature_cache, shapes_root,
        dict(type='one_shot', candidates=20, bn_batches=2), num_trials=3,
        pruner=dict(type='SuccessiveHalving', min_resource=2,
                    reduction_factor=3))
    wd = tmp_path / 'work'
    out = run_tool('tools/search.py', cfg, '--work-dir', str(wd),
                   '--launcher', 'ray', '--workers', '2').stdout
    assert 'supernet: training' in out and '3/3 done' in out
    rec = json.loads((wd / 'supernet' / 'result.json').read_text())
    assert rec['status'] == 'COMPLETE'
    study = load(wd)
    evaluated = [t for t in study.get_trials() if 'skipped' not in
                 t.user_attrs and t.state.name in ('COMPLETE', 'PRUNED')]
    best = {s.hash for s in ranked(read_scores(str(wd)))[:3]}
    assert {t.user_attrs['arch_hash'] for t in evaluated} == best
