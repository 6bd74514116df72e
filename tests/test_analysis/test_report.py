"""The report tells the truth about the cell that won: it draws the cell the
search selected (the re-ranking winner, not the proxy winner), names the
stage that selected it, and never prints a rank correlation of too few
cells as a finding."""
import json
import re

import pytest

from mmseg_dpc.analysis.plots import (STANDS_OUT, plot_learning_curves,
                                      relative_contributions)
from mmseg_dpc.analysis.report import selected_cell, write_report
from mmseg_dpc.search.space import DPCSearchSpace
from mmseg_dpc.search.progress import (MIN_RANK_N, RunTimes, RunTrained,
                                       format_event, rank_correlations)
from mmseg_dpc.search.rerank import (RerankResult, RerankRow,
                                     rank_correlation)

PNG = b'\x89PNG\r\n\x1a\n'


def _row(rank, arch, miou, trial_dir, status='COMPLETE', error=None):
    return dict(rank=rank, trial=rank - 1, arch_hash=arch.hash,
                status=status, mIoU=miou, full_mIoU=None, params=10,
                flops=1000 * rank, wall_time=1.0, pareto=False,
                stopped_at=None, error=error, arch=arch.to_json(),
                trial_dir=str(trial_dir))


def _search(tmp_path, proxy, full, failed=0, val_steps=(8, ), losses=()):
    """A search's files as it writes them: a leaderboard of complete trials
    with proxy mIoU ``proxy`` (best first) and ``failed`` failed ones, and
    a ``rerank.json`` of the first ``len(full)`` with full-task mIoU
    ``full`` (``None``: failed), its correlation as re-ranking computes
    it."""
    space = DPCSearchSpace(num_branches=3)
    archs = list(dict.fromkeys(space.samples(50, seed=1)))[:len(proxy) +
                                                           failed]
    rows = []
    for i, (arch, miou) in enumerate(zip(archs, proxy), 1):
        run = tmp_path / 'trials' / f'trial_{i - 1}'
        run.mkdir(parents=True)
        (run / 'metrics.json').write_text(json.dumps(dict(
            val=[dict(step=s, mIoU=miou) for s in val_steps],
            train=[dict(step=s, loss=2.0 / s) for s in losses],
            nonfinite_loss=None, pruned=None)))
        rows.append(_row(i, arch, miou, run))
    for j in range(failed):
        rows.append(_row(len(proxy) + j + 1, archs[len(proxy) + j], None,
                         tmp_path / 'none', 'FAILED',
                         'exit code 1; end of train.log:\nboom'))
    (tmp_path / 'leaderboard.json').write_text(json.dumps(rows))
    (tmp_path / 'summary.json').write_text(json.dumps(dict(study='s')))
    trows = [RerankRow(r['trial'], r['arch_hash'], r['rank'], r['mIoU'], f,
                       'COMPLETE' if f is not None else 'FAILED', 10, 1000,
                       None, 1.0)
             for r, f in zip(rows, full)]
    ok = [r for r in trows if r.full_mIoU is not None]
    rerank = RerankResult(trows, 'full.py', **rank_correlation(
        [r.proxy_mIoU for r in ok], [r.full_mIoU for r in ok]))
    (tmp_path / 'rerank.json').write_text(json.dumps(rerank.to_dict()))
    return rows, rerank


def _images(text):
    return re.findall(r'!\[[^\]]*\]\(([^)]+)\)', text)


def test_report_draws_the_reranking_winner_and_names_its_stage(tmp_path):
    # the proxy's second cell wins on the full task
    rows, rerank = _search(tmp_path, [40.0, 35.0, 30.0], [20.0, 25.0])
    chosen = selected_cell(rows, rerank, None)
    assert chosen.row['arch_hash'] == rows[1]['arch_hash']
    assert chosen.stage == 're-ranking'
    assert chosen.proxy['arch_hash'] == rows[0]['arch_hash']
    text = open(write_report(str(tmp_path))).read()
    section = text[text.index('## The selected cell'):
                   text.index('## The worst cell')]
    assert (f'Cell {rows[1]["arch_hash"]} (trial 1) was selected by the '
            're-ranking') in section
    assert 'best full-task mIoU (25.00)' in section
    # the proxy winner beside it, named as such
    assert f'The proxy winner, cell {rows[0]["arch_hash"]}' in section
    assert _images(section) == ['report/best_cell.png',
                                'report/proxy_winner_cell.png']
    for img in _images(text):
        assert (tmp_path / img).read_bytes()[:8] == PNG, img


def test_the_verdicts_searched_cell_is_the_selected_one(tmp_path):
    rows, rerank = _search(tmp_path, [40.0, 35.0, 30.0], [25.0, 20.0])
    verdicts = dict(models=[dict(role='searched',
                                 arch_hash=rows[0]['arch_hash'])])
    chosen = selected_cell(rows, rerank, verdicts)
    assert chosen.row is rows[0] and chosen.proxy is None
    assert 'the verdict compares it' in chosen.by
    # without re-ranking: the proxy search's first place
    chosen = selected_cell(rows, None, None)
    assert chosen.stage == 'proxy search' and chosen.row is rows[0]


def test_correlations_of_too_few_cells_carry_the_caveat(tmp_path):
    assert MIN_RANK_N == 5
    two = rank_correlations(2, -0.9999999999999999, -1.0, 1.0, 1.0)
    assert two == 'Spearman -1.00, Kendall -1.00 (n = 2: says nothing)'
    five = rank_correlations(5, 0.9, 0.8, 0.037, 0.083)
    assert five == ('Spearman 0.90 (p 0.04), Kendall 0.80 (p 0.08), '
                    'n = 5')
    assert 'says nothing' not in five
    # in the report: rounded, with the caveat, no bare finding
    _search(tmp_path, [40.0, 35.0, 30.0], [20.0, 25.0])
    text = open(write_report(str(tmp_path))).read()
    assert 'Spearman -1.00, Kendall -1.00 (n = 2: says nothing).' in text
    assert '0.9999' not in text


def test_a_failed_rerank_and_failed_trials_are_said(tmp_path):
    rows, _ = _search(tmp_path, [40.0, 35.0, 30.0], [20.0, None],
                      failed=1)
    text = open(write_report(str(tmp_path))).read()
    assert '3 complete trials, 0 pruned, 1 failed.' in text
    assert '(n = 1: says nothing) (1 failed on the full task, left out)' \
        in text
    assert '## Failed trials' in text and '| exit code 1; end of' in text


def test_learning_curves_draw_what_was_recorded_or_say_nothing(tmp_path):
    # one validation each, no training loss: words, no figure
    _search(tmp_path / 'a', [40.0, 35.0], [20.0])
    text = open(write_report(str(tmp_path / 'a'))).read()
    assert 'Nothing to plot: each trial recorded no training loss and ' \
        'validated once (at iteration 8).' in text
    assert 'learning_curves.png' not in text
    assert not (tmp_path / 'a' / 'report' / 'learning_curves.png').exists()
    # the training loss from metrics.json: drawn
    _search(tmp_path / 'b', [40.0, 35.0], [20.0], losses=(2, 4, 6, 8))
    text = open(write_report(str(tmp_path / 'b'))).read()
    assert '![learning curves](report/learning_curves.png)' in text
    assert 'only its training loss is drawn' in text
    with pytest.raises(ValueError, match='neither losses nor vals'):
        plot_learning_curves(None, None, [], [], str(tmp_path / 'x.png'))


def test_branch_contributions_relative_to_their_mean():
    same = relative_contributions([1620, 1650, 1635], [10, 10, 10])
    assert [round(c.value, 3) for c in same] == [0.991, 1.009, 1.0]
    assert not any(c.stands_out for c in same)
    one = relative_contributions([1000, 1000, 2000], [10, 10, 10])
    assert [c.stands_out for c in one] == [True, True, True]
    # beyond STANDS_OUT but within its two standard errors: not out
    noisy = relative_contributions([1000, 1000 * (1 + 2 * STANDS_OUT)],
                                   [400, 400])
    assert not any(c.stands_out for c in noisy)


def test_verdict_eta_from_full_task_runs_and_a_guess_until_a_round():
    # the re-ranking's two full-task runs took 60 s each; 2 workers
    times = RunTimes(2, [60.0, 60.0])
    times.add(90.0)
    eta, guess, timed = times.eta(6)
    assert eta == pytest.approx(70.0 * 6 / 2) and guess and timed == 3
    line = format_event(RunTrained('verdict', 'searched cell x, seed 1',
                                   'COMPLETE', 40.0, 1, 7, eta,
                                   eta_guess=guess, eta_from=timed))
    assert line.endswith('ETA 3.5 min (a guess: 3 full-task runs timed)')
    times.add(90.0)
    eta, guess, _ = times.eta(5)
    assert not guess
    assert 'guess' not in format_event(RunTrained(
        'verdict', 'm, seed 2', 'COMPLETE', 40.0, 2, 7, eta,
        eta_guess=guess, eta_from=4))
