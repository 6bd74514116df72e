"""One report per search: ``report.md`` with its PNGs, in the work dir,
from the files the search wrote (read through the modules that write
them)."""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional

from ..engine import read_metrics_file
from ..search.leaderboard import read_leaderboard, read_summary, row_cell
from ..search.progress import num, rank_correlations
from ..search.record import COMPLETE, FAILED, PRUNED
from ..search.rerank import RerankResult, read_rerank
from ..search.verdict import read_verdicts, verdict_tables
from .cell_graph import draw_cell
from .plots import (branch_contributions, plot_branch_contributions,
                    plot_learning_curves, plot_pareto, plot_proxy_vs_full,
                    plot_search_progress)

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
    lines = [f'# DPC search report: {summary.get("study", "")}', '',
             f'{len(done)} complete trials, {len(pruned)} pruned, '
             f'{sum(r["status"] == FAILED for r in board)} failed. '
             'All numbers below were measured by this run.', '']
    lines += _cells(figs, done[0], done[-1])
    lines += _contributions(figs, done[0])
    lines += _progress(figs, done)
    lines += _learning_curves(figs, done + pruned, summary.get('rungs') or [])
    lines += _cheap_stage(figs, work_dir, done)
    rerank = read_rerank(work_dir)
    if rerank and rerank.trials:
        lines += _rerank(figs, rerank)
    verdicts = read_verdicts(work_dir)
    if verdicts:
        lines += verdict_table(verdicts)
    if extra:
        lines += ['## Comparison', '', '| model | value |', '| --- | --- |']
        lines += [f'| {k} | {v} |' for k, v in extra.items()]
        lines.append('')
    lines += _leaderboard(done)
    path = osp.join(work_dir, 'report.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
    return path


def _cells(figs: str, best: Row, worst: Row) -> List[str]:
    """The best and the worst cell, drawn."""
    for name, row in (('best', best), ('worst', worst)):
        draw_cell(row_cell(row).branches, osp.join(figs, f'{name}_cell.png'),
                  f'{name} cell {row["arch_hash"]}: proxy mIoU '
                  f'{row["mIoU"]:.2f}')
    return ['## Best and worst cells', '',
            '![best cell](report/best_cell.png)', '',
            '![worst cell](report/worst_cell.png)', '']


def _contributions(figs: str, best: Row) -> List[str]:
    """The best cell's branches by their weight in its projection (where
    its proxy checkpoint is kept)."""
    ckpt = last_checkpoint(best['trial_dir'])
    if not ckpt:
        return []
    contrib = branch_contributions(ckpt)
    labels = [f'[{i}] {b.describe()}'
              for i, b in enumerate(row_cell(best).branches)]
    plot_branch_contributions(contrib['l1'], labels,
                              osp.join(figs, 'best_contributions.png'),
                              f'best cell {best["arch_hash"]}: '
                              'per-branch contribution')
    return ['## Per-branch contribution (best cell, proxy checkpoint)', '',
            '![contributions](report/best_contributions.png)', '']


def _progress(figs: str, done: List[Row]) -> List[str]:
    """The best so far by trial, and mIoU against FLOPs."""
    plot_search_progress([r['trial'] for r in done],
                         [r['mIoU'] for r in done],
                         osp.join(figs, 'progress.png'))
    plot_pareto([r['mIoU'] for r in done], [r['flops'] for r in done],
                osp.join(figs, 'pareto.png'))
    return ['## Search progress', '', '![progress](report/progress.png)',
            '', '## mIoU against FLOPs', '', '![pareto](report/pareto.png)',
            '']


def _learning_curves(figs: str, trained: List[Row],
                     rungs: List[int]) -> List[str]:
    """Each trained trial's validation mIoU by iteration, and where the
    pruner stopped trials."""
    curves = [[(v['step'], v['mIoU']) for v in (read_metrics_file(
        r['trial_dir']) or {}).get('val', []) if 'mIoU' in v]
        if r.get('trial_dir') else [] for r in trained]
    if not any(curves):
        return []
    pruned = [r for r in trained if r['status'] == PRUNED]
    plot_learning_curves(curves, [r['status'] == PRUNED for r in trained],
                         rungs, osp.join(figs, 'learning_curves.png'))
    lines = ['## Learning curves', '',
             '![learning curves](report/learning_curves.png)', '']
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
              f'{r.proxy_mIoU:.2f} | '
              f'{"failed" if r.full_mIoU is None else num(r.full_mIoU)} |'
              for r in rerank.trials]
    return lines + ['', f'Spearman {num(rerank.spearman)}, Kendall '
                    f'{num(rerank.kendall)} (n = {rerank.n}).', '']


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
