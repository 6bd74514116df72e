"""One report per search: ``report.md`` with its PNGs, in the work dir,
from the files the search wrote (read through the modules that write
them)."""
from __future__ import annotations

import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ..engine import read_metrics_file
from ..search.leaderboard import read_leaderboard, read_summary, row_cell
from ..search.progress import num, rank_correlations
from ..search.record import COMPLETE, FAILED, PRUNED
from ..search.rerank import RerankResult, read_rerank
from ..search.verdict import read_verdicts, verdict_tables
from .cell_graph import draw_cell
from .plots import (STANDS_OUT, branch_contributions,
                    plot_branch_contributions, plot_learning_curves,
                    plot_pareto, plot_proxy_vs_full, plot_search_progress,
                    relative_contributions)

Row = Dict[str, Any]  # of the leaderboard


def last_checkpoint(run_dir: str) -> Optional[str]:
    """The checkpoint mmengine recorded last in ``run_dir``."""
    marker = osp.join(run_dir, 'last_checkpoint')
    if osp.exists(marker):
        with open(marker) as f:
            path = f.read().strip()
        if osp.exists(path):
            return path
    return None


def verdict_table(verdicts: Dict[str, Any]) -> List[str]:
    """The verdict over seeds (``verdicts.json``) as a markdown section:
    the tables :func:`~mmseg_dpc.search.verdict.verdict_tables` formats
    for the console too."""
    seeds = verdicts['seeds']
    first = seeds[:verdicts.get('min_seeds', len(seeds))]
    raced = (f', then raced: the searched cell and the models of the '
             f'undecided comparisons one more seed a round, up to '
             f'{verdicts["max_seeds"]} (seeds used: '
             f'{", ".join(map(str, seeds))})'
             if verdicts.get('max_seeds', len(first)) > len(first) else '')
    models, comparisons = verdict_tables(verdicts)
    return ['## Verdict over seeds', '',
            f'Each model trained on the full task with seeds '
            f'{", ".join(map(str, first))} ({verdicts["initialised"]})'
            f'{raced}; {verdicts["rule"]}.', '',
            *models.markdown(), '', *comparisons.markdown(), '']


@dataclass(frozen=True)
class Selection:
    """The cell the search hands on (``row``, its leaderboard row), the
    stage that selected it (``re-ranking`` or ``proxy search``) and how
    (``by``), its full-task mIoU, and the proxy winner (``proxy``, with its
    full-task mIoU) where that is another cell."""
    row: Row
    stage: str
    by: str
    full_mIoU: Optional[float]
    proxy: Optional[Row]
    proxy_full_mIoU: Optional[float] = None


def selected_cell(done: List[Row], rerank: Optional[RerankResult],
                  verdicts: Optional[Dict[str, Any]]) -> Selection:
    """The verdict's searched cell, else the re-ranking winner (the best
    full-task mIoU of the re-ranked cells, the first by proxy rank among
    ties, as the verdict picks it), else the proxy winner (the
    leaderboard's first). The proxy winner beside a re-ranked cell is
    re-ranking's proxy rank 1."""
    by_hash = {r['arch_hash']: r for r in done}
    winner = None
    if rerank is not None and rerank.completed:
        winner = max(rerank.completed, key=lambda r: r.full_mIoU)
    searched = next((m for m in (verdicts or {}).get('models', [])
                     if m.get('role') == 'searched'), None)
    if searched is not None and searched['arch_hash'] in by_hash:
        row = by_hash[searched['arch_hash']]
    elif winner is not None and winner.arch_hash in by_hash:
        row = by_hash[winner.arch_hash]
    else:
        return Selection(done[0], 'proxy search', 'its first place on the '
                         'leaderboard (no cell was re-ranked on the full '
                         'task)', None, None)
    full = rerank.full_mIoU(row['trial']) if rerank else None
    tied = sum(r.full_mIoU == full for r in rerank.completed) - 1
    by = (f'the best full-task mIoU ({num(full)}) of the '
          f'{len(rerank.trials)} best proxy cells trained on the full task'
          + (f' (tied with {tied} other{"s" if tied > 1 else ""}: the '
             'first by proxy rank)' if tied > 0 else '')
          + ('; the verdict compares it with the other models'
             if searched is not None else ''))
    # the proxy's best as re-ranking ranked it (its first objective)
    first = by_hash.get(min(rerank.trials,
                            key=lambda r: r.proxy_rank).arch_hash, done[0])
    proxy = None if row['arch_hash'] == first['arch_hash'] else first
    return Selection(row, 're-ranking', by, full, proxy,
                     proxy and rerank.full_mIoU(proxy['trial']))


def write_report(work_dir: str, extra: Optional[Dict[str, Any]] = None
                 ) -> str:
    """Draw the plots of the search in ``work_dir`` and write
    ``report.md``; returns its path. ``extra`` adds a table of named
    figures (e.g. the demo's baseline)."""
    board = read_leaderboard(work_dir)
    summary = read_summary(work_dir)
    done = [r for r in board if r['status'] == COMPLETE]
    if not done:
        raise ValueError(f'{work_dir}: no complete trial to report on (no '
                         'leaderboard.json of a search with results)')
    figs = osp.join(work_dir, 'report')
    os.makedirs(figs, exist_ok=True)
    pruned = [r for r in board if r['status'] == PRUNED]
    failed = [r for r in board if r['status'] == FAILED]
    lines = [f'# DPC search report: {summary.get("study", "")}', '',
             f'{len(done)} complete trials, {len(pruned)} pruned, '
             f'{len(failed)} failed. '
             'All numbers below were measured by this run.', '']
    rerank = read_rerank(work_dir)
    verdicts = read_verdicts(work_dir)
    chosen = selected_cell(done, rerank, verdicts)
    lines += _cells(figs, chosen, min(reversed(done),
                                      key=lambda r: r['mIoU']))
    lines += _contributions(figs, chosen.row)
    lines += _progress(figs, done, pruned, failed,
                       summary.get('objectives') or [], chosen.row)
    lines += _learning_curves(figs, done + pruned, summary.get('rungs') or [])
    lines += _cheap_stage(figs, work_dir, done)
    if rerank and rerank.trials:
        lines += _rerank(figs, rerank)
    if verdicts:
        lines += verdict_table(verdicts)
    if extra:
        lines += ['## Comparison', '', '| model | value |', '| --- | --- |']
        lines += [f'| {k} | {v} |' for k, v in extra.items()]
        lines.append('')
    lines += _leaderboard(done)
    if failed:
        lines += _failures(failed)
    path = osp.join(work_dir, 'report.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
    return path


def _cells(figs: str, chosen: Selection, worst: Row) -> List[str]:
    """The selected cell, the proxy winner beside it where that is another
    cell, and the worst cell, drawn."""
    row = chosen.row
    full = ('' if chosen.full_mIoU is None else
            f'full-task mIoU {num(chosen.full_mIoU)}, ')
    draw_cell(row_cell(row).branches, osp.join(figs, 'best_cell.png'),
              f'selected cell {row["arch_hash"]} (by {chosen.stage}):\n'
              f'{full}proxy mIoU {num(row["mIoU"])}')
    lines = ['## The selected cell', '',
             f'Cell {row["arch_hash"]} (trial {row["trial"]}) was selected '
             f'by the {chosen.stage}: {chosen.by}.', '']
    if chosen.proxy is None:
        lines += ['![selected cell](report/best_cell.png)', '']
        if chosen.full_mIoU is not None:
            lines += ['It is also the proxy winner.', '']
    else:
        p = chosen.proxy
        draw_cell(row_cell(p).branches,
                  osp.join(figs, 'proxy_winner_cell.png'),
                  f'proxy winner {p["arch_hash"]} (not selected):\n'
                  f'full-task mIoU {num(chosen.proxy_full_mIoU)}, '
                  f'proxy mIoU '
                  f'{num(p["mIoU"])}')
        lines += [f'The proxy winner, cell {p["arch_hash"]} (trial '
                  f'{p["trial"]}, proxy mIoU {num(p["mIoU"])} against '
                  f'{num(row["mIoU"])}), lost the re-ranking; selected '
                  'on the left, proxy winner on the right:', '',
                  '![selected cell](report/best_cell.png) '
                  '![proxy winner](report/proxy_winner_cell.png)', '']
    lines += ['## The worst cell (lowest proxy mIoU)', '']
    tied = worst['mIoU'] >= row['mIoU']
    draw_cell(row_cell(worst).branches, osp.join(figs, 'worst_cell.png'),
              f'worst cell {worst["arch_hash"]}: proxy mIoU '
              f'{num(worst["mIoU"])}' +
              ('\n(tied: every complete trial scored the same)'
               if tied else ''))
    if tied:
        lines += [f'No worse than the selected cell: every complete trial '
                  f'scored the same proxy mIoU ({num(row["mIoU"])}); the '
                  'last on the leaderboard is drawn.', '']
    return lines + ['![worst cell](report/worst_cell.png)', '']


def _contributions(figs: str, row: Row) -> List[str]:
    """The selected cell's branches by their weight in its projection,
    relative to their mean (where its proxy checkpoint is kept)."""
    ckpt = last_checkpoint(row['trial_dir'])
    if not ckpt:
        return []
    contrib = branch_contributions(ckpt)
    labels = [f'[{i}] {b.describe()}'
              for i, b in enumerate(row_cell(row).branches)]
    rel = relative_contributions(contrib['l1'], contrib['l1_se'])
    plot_branch_contributions(rel, labels,
                              osp.join(figs, 'best_contributions.png'),
                              f'selected cell {row["arch_hash"]}: each '
                              'branch\'s share of the projection')
    out = [f'[{i}] {r.value:.2f}' for i, r in enumerate(rel)
           if r.stands_out]
    verdict = ('No branch stands out: each is within '
               f'{100 * STANDS_OUT:.0f}% or two standard errors of the '
               'mean.' if not out else
               'Standing out (relative to the mean): ' + ', '.join(out) +
               '.')
    return ['## Per-branch contribution (selected cell, proxy checkpoint)',
            '', 'The L1 norm of each branch\'s slice of the concatenation\'s '
            '1x1 projection, relative to their mean (1 = an average '
            'branch); the bars\' spread: two standard errors over the '
            'projection\'s output channels. A branch stands out when it '
            f'differs from 1 by more than {100 * STANDS_OUT:.0f}% and by '
            'more than its two standard errors.', '',
            '![contributions](report/best_contributions.png)', '',
            verdict, '']


def _progress(figs: str, done: List[Row], pruned: List[Row],
              failed: List[Row], objectives: List[Dict[str, str]],
              selected: Row) -> List[str]:
    """The best so far by trial, and mIoU against FLOPs."""
    plot_search_progress([r['trial'] for r in done],
                         [r['mIoU'] for r in done],
                         osp.join(figs, 'progress.png'),
                         pruned=[(r['trial'], r['mIoU']) for r in pruned
                                 if r['mIoU'] is not None],
                         failed=[r['trial'] for r in failed])
    plot_pareto([r['mIoU'] for r in done], [r['flops'] for r in done],
                osp.join(figs, 'pareto.png'), done.index(selected))
    names = [o['name'] for o in objectives]
    what = ('the proxy search maximised mIoU alone; the front shows what '
            'each extra FLOP bought' if len(names) <= 1 else
            f'the search\'s objectives: {", ".join(names)}; its own '
            'Pareto-optimal trials are marked in `leaderboard.csv`')
    return ['## Search progress', '', '![progress](report/progress.png)',
            '', '## mIoU against FLOPs', '', f'The non-dominated cells by '
            f'proxy mIoU and head FLOPs ({what}).', '',
            '![pareto](report/pareto.png)', '']


def _learning_curves(figs: str, trained: List[Row],
                     rungs: List[int]) -> List[str]:
    """Each trained trial's training loss and validation mIoU by
    iteration, and where the pruner stopped trials; in words where a run
    recorded too little to draw."""
    records = [read_metrics_file(r['trial_dir']) or {}
               if r.get('trial_dir') else {} for r in trained]
    losses = [[(e['step'], e['loss']) for e in m.get('train') or []]
              for m in records]
    vals = [[(v['step'], v['mIoU']) for v in m.get('val', [])
             if 'mIoU' in v] for m in records]
    has_loss = sum(len(c) > 1 for c in losses) > 0
    has_val = sum(len(c) > 1 for c in vals) > 0
    lines = ['## Learning curves', '']
    if not (has_loss or has_val):
        steps = sorted({s for c in vals for s, _ in c})
        loss = ('its training loss once at most' if any(losses) else
                'no training loss')
        return lines + [
            f'Nothing to plot: each trial recorded {loss} and validated '
            f'once (at iteration {", ".join(map(str, steps))}).', '']
    plot_learning_curves(losses if has_loss else None,
                         vals if has_val else None,
                         [r['status'] == PRUNED for r in trained], rungs,
                         osp.join(figs, 'learning_curves.png'))
    lines += ['![learning curves](report/learning_curves.png)', '']
    if not has_val:
        lines += ['Each trial validated once, at the end, so only its '
                  'training loss is drawn.', '']
    pruned = [r for r in trained if r['status'] == PRUNED]
    if pruned:
        at: Dict[int, int] = {}
        for r in pruned:
            at[r['stopped_at']] = at.get(r['stopped_at'], 0) + 1
        lines += ['Pruned: ' + ', '.join(
            f'{n} at iteration {s}' for s, n in sorted(at.items())) +
            f' (rungs {rungs}).', '']
    return lines


def _rerank(figs: str, rerank: RerankResult) -> List[str]:
    """Proxy against full-task mIoU of the re-ranked cells."""
    ok = rerank.completed
    plot_proxy_vs_full([r.proxy_mIoU for r in ok], [r.full_mIoU for r in ok],
                       [r.arch_hash for r in ok],
                       osp.join(figs, 'proxy_vs_full.png'), rerank.spearman,
                       rerank.kendall)
    lines = ['## Re-ranking on the full task', '',
             '![proxy vs full](report/proxy_vs_full.png)', '',
             '| proxy rank | trial | cell | proxy mIoU | full mIoU |',
             '| --- | --- | --- | --- | --- |']
    lines += [f'| {r.proxy_rank} | {r.trial} | {r.arch_hash} | '
              f'{num(r.proxy_mIoU)} | '
              f'{"failed" if r.full_mIoU is None else num(r.full_mIoU)} |'
              for r in rerank.trials]
    failed = len(rerank.trials) - len(ok)
    lost = f' ({failed} failed on the full task, left out)' if failed else ''
    return lines + ['', rank_correlations(
        rerank.n, rerank.spearman, rerank.kendall, rerank.spearman_p,
        rerank.kendall_p) + f'{lost}.', '']


def _failures(failed: List[Row]) -> List[str]:
    lines = ['## Failed trials', '', '| trial | cell | why |',
             '| --- | --- | --- |']
    for r in failed:  # the error's first line and its last (the raise)
        why = [w.strip() for w in (r.get('error') or '').splitlines()
               if w.strip()] or ['unknown']
        text = why[0] if len(why) == 1 else f'{why[0]} ... {why[-1]}'
        lines.append(f'| {r["trial"]} | {r["arch_hash"]} | '
                     f'{text.replace("|", "/")} |')
    return lines + ['']


def _leaderboard(done: List[Row]) -> List[str]:
    lines = ['## Leaderboard (top 10)', '',
             '| rank | trial | cell | proxy mIoU | params | MFLOPs |',
             '| --- | --- | --- | --- | --- | --- |']
    lines += [f'| {r["rank"]} | {r["trial"]} | {r["arch_hash"]} | '
              f'{r["mIoU"]:.2f} | {r["params"]:,} | '
              f'{r["flops"] / 1e6:.1f} |' for r in done[:10]]
    return lines + ['', 'Full results: `leaderboard.csv`, '
                    '`leaderboard.json`, `summary.json`, `rerank.json`; '
                    'each trial in `trials/`.', '']


def _cheap_stage(figs: str, work_dir: str, done: List[Row]) -> List[str]:
    """The cheap stage's score against proxy mIoU for the trained cells
    (a search of strategy one_shot or zero_cost)."""
    from scipy import stats

    from ..search.cheap_stage import read_scores
    from .cheap_fidelity import plot_cheap_vs_proxy
    scores = {s.hash: s for s in read_scores(work_dir)}
    pairs = [(scores[r['arch_hash']].score, r['mIoU']) for r in done
             if r['arch_hash'] in scores
             and scores[r['arch_hash']].finite]
    if not scores:
        return []
    stage = json.loads(next(iter(scores.values())).scored_by)
    name = stage['stage'] + (f" ({stage['score']})" if 'score' in stage
                             else '')
    n = len(pairs)
    rho = tau = None
    if n >= 2:
        rho = float(stats.spearmanr(*zip(*pairs))[0])
        tau = float(stats.kendalltau(*zip(*pairs))[0])
    corr = rank_correlations(n, rho, tau)
    lines = [f'## Cheap stage: {name}', '',
             f'{len(scores)} candidates scored; the proxy trained '
             f'{n} of them (the best first). Cheap score against proxy '
             f'mIoU: {corr}.', '']
    if n:
        plot_cheap_vs_proxy([p[0] for p in pairs], [p[1] for p in pairs],
                            osp.join(figs, 'cheap_vs_proxy.png'), name,
                            corr)
        lines += ['![cheap vs proxy](report/cheap_vs_proxy.png)', '']
    return lines
