"""Proxy fidelity: does the proxy rank cells as the full task does?

    python tools/analysis/proxy_fidelity.py SEARCH_CONFIG --work-dir D \
        [--cells 16] [--seeds 2] [--sample-seed 0] [--workers N]
        [--launcher local|ray] [--ray-address ADDR] [--cfg-options k=v ...]

Samples ``--cells`` cells uniformly from the search config's space, trains
each ``--seeds`` times on its proxy task and on its full task (set up as
its re-ranking: ``rerank.full_config``, ``cfg_options``, ``init_from``),
through the search's launcher, and writes ``fidelity.json`` and
``fidelity.png`` (proxy against full mIoU, seed standard deviations as
error bars) to the work dir. Prints Spearman and Kendall with bootstrap 95%
intervals, the seed-to-seed standard deviation of each task, and each
task's seed-to-seed Spearman (its own noise ceiling). The same command
again trains only what is missing.

Picking N and S: the interval's width shrinks about as 1/sqrt(N); with
N = 16 a Spearman of 0.5 has an interval about +-0.4 wide, so use N >= 30
to tell 0.5 from 0.2. S = 2 is the least that measures seed noise; when the
seed standard deviation is close to the spread of the cells' means, more
seeds (or longer proxy training) help more than more cells.
"""
import argparse
import os
import os.path as osp
import sys
import time

from mmengine.config import DictAction


def parse_args():
    from mmseg_dpc.tools.cli import add_trial_run_args
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', help='search config (space, proxy, rerank)')
    p.add_argument('--work-dir', required=True)
    p.add_argument('--cells', type=int, default=16)
    p.add_argument('--seeds', type=int, default=2)
    p.add_argument('--sample-seed', type=int, default=0)
    add_trial_run_args(p)
    p.add_argument('--cheap', nargs='+', metavar='STAGE',
                   help='measure cheap stages against the proxy instead of '
                   'the full task: one_shot[:rate_pair|:position], '
                   'zero_cost or a zero-cost score (see '
                   'mmseg_dpc/tools/analysis/cheap_fidelity.py)')
    p.add_argument('--cheap-options', nargs='+', action=DictAction,
                   help='the cheap stages\' keys, e.g. bn_batches=2 '
                   'supernet_cfg_options.train_cfg.max_iters=600')
    return p.parse_args()


def train_all(stage, runner, cells, seeds, root, poll, log):
    """Train every (cell, seed) of ``stage`` not complete yet; returns
    ``{(hash, seed): mIoU}``."""
    from mmseg_dpc.search.progress import RunTrained, TrainingPlanned
    from mmseg_dpc.search.runner import TrialRun
    runs = [TrialRun((arch.hash, seed), i, arch,
                     osp.join(root, stage, f'{arch.hash}-s{seed}'), {},
                     seed=seed)
            for i, arch in enumerate(cells) for seed in range(seeds)]

    def before(kept, to_train):
        log.emit(TrainingPlanned('fidelity', stage, kept, to_train))

    def after(run, record, done, total, eta):
        error = record.error.splitlines()[0] if record.error else None
        log.emit(RunTrained('fidelity', f'{run.arch.hash} seed {run.seed}',
                            record.status, record.metrics.get('mIoU'), done,
                            total, eta, error=error, part=stage))

    records = runner.train(runs, poll, before, after)
    return {key: r.metrics['mIoU'] for key, r in records.items()
            if r.complete}


def main() -> int:
    a = parse_args()
    import mmseg_dpc
    mmseg_dpc.register_all_modules()  # DPCHead & co. in mmseg's registries
    from mmseg_dpc import SEARCH_SPACES
    from mmseg_dpc.analysis.fidelity import write_fidelity
    from mmseg_dpc.search.full_task import full_task_runner
    from mmseg_dpc.search.launchers import build_launcher
    from mmseg_dpc.search.progress import Message, ProgressLog
    from mmseg_dpc.search.runner import TrialRunner
    try:
        st, cfg, proxy, cheap = checked(a)
    except (ValueError, KeyError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    cells = uniform_cells(SEARCH_SPACES.build(st.search_space), a.cells,
                          a.sample_seed)
    wd = osp.abspath(a.work_dir)
    os.makedirs(wd, exist_ok=True)
    launcher = build_launcher(a.launcher, a.workers, a.ray_address,
                              st.resources)
    log = ProgressLog(wd)
    start = time.time()
    results = {}
    try:
        for stage, runner in (
                ('proxy', lambda: TrialRunner(
                    launcher, proxy, timeout=st.trial_timeout,
                    threads_per_trial=st.threads_per_trial)),
                ('full', lambda: full_task_runner(
                    st.rerank, launcher,
                    threads_per_trial=st.threads_per_trial))):
            if stage == 'full' and a.cheap:  # cheap stages vs the proxy
                summary = cheap.measure(launcher, cells, results['proxy'],
                                        a.seeds, st.poll_interval)
                break
            results[stage] = train_all(stage, runner(), cells, a.seeds, wd,
                                       st.poll_interval, log)
    finally:
        launcher.shutdown()
    if a.cheap:
        from mmseg_dpc.analysis.cheap_fidelity import StageFidelity, table
        for line in table([StageFidelity(**s) for s in summary['stages']],
                          summary['proxy_seed_spearman']) + [
                f'{osp.join(wd, "cheap_fidelity.json")}, '
                f'{osp.join(wd, "cheap_fidelity.png")}']:
            log.emit(Message('fidelity', line))
        return 0
    rows = [dict(arch_hash=c.hash, arch=c.to_json(),
                 proxy=[results['proxy'].get((c.hash, s))
                        for s in range(a.seeds)],
                 full=[results['full'].get((c.hash, s))
                       for s in range(a.seeds)]) for c in cells]
    ok = [r for r in rows if None not in r['proxy'] + r['full']]
    if len(ok) < 3:
        print(f'error: only {len(ok)} cells trained on both tasks',
              file=sys.stderr)
        return 1
    lines = summary_lines(write_fidelity(wd, ok), len(ok), len(rows),
                          a.seeds, time.time() - start)
    lines.append(f'{osp.join(wd, "fidelity.json")}, '
                 f'{osp.join(wd, "fidelity.png")}')
    for line in lines:
        log.emit(Message('fidelity', line))
    return 0


def checked(a):
    """The settings, config, proxy config and cheap stages (or ``None``)
    of the command, every one checked before anything exists."""
    from mmseg_dpc import SEARCH_SPACES
    from mmseg_dpc.feature_cache import check_proxy_cache
    from mmseg_dpc.search.full_task import full_task_config
    from mmseg_dpc.search.runner import load_base_config
    from mmseg_dpc.search.settings import SearchSettings, check_workers
    from mmseg_dpc.tools.cli import load_config_file
    cheap = None
    cfg = load_config_file(a.config)
    if a.cfg_options:
        cfg.merge_from_dict(a.cfg_options)
    st = SearchSettings.from_config(cfg)
    check_workers(a.workers, a.launcher)
    if st.rerank is None and not a.cheap:
        raise ValueError('the search config has no rerank: its full '
                         'task (rerank.full_config) is what the proxy '
                         'is compared with')
    if a.cells < 3 or a.seeds < 1:
        raise ValueError('--cells must be >= 3 and --seeds >= 1')
    proxy = load_base_config(st.proxy_config, st.proxy_cfg_options)
    check_proxy_cache(proxy)
    if a.cheap:  # its stages checked, before anything exists
        from mmseg_dpc.tools.analysis.cheap_fidelity import CheapFidelity
        cheap = CheapFidelity(
            a.cheap, a.cheap_options, st, cfg,
            SEARCH_SPACES.build(st.search_space), proxy, a.cells,
            osp.abspath(a.work_dir))
    else:
        full_task_config(st.rerank)  # loads, before anything exists
    return st, cfg, proxy, cheap


def uniform_cells(space, n: int, seed: int) -> list:
    """``n`` distinct cells of one seeded uniform stream of ``space``."""
    cells = []
    for arch in space.samples(100 * n, seed=seed):
        if arch not in cells:
            cells.append(arch)
        if len(cells) == n:
            break
    return cells


def summary_lines(s: dict, n_ok: int, n_rows: int, seeds: int,
                  seconds: float) -> list:
    """What the tool prints of the summary ``s`` of ``n_ok`` cells (of
    ``n_rows``) trained ``seeds`` times each."""
    from mmseg_dpc.search.progress import MIN_RANK_N, num

    def ci(key):
        lo, hi = s[f'{key}_ci95'] or (None, None)
        if s[key] is None:  # see summarize: a constant side
            return 'n/a [95% CI n/a: one task scores every cell the same]'
        if lo is None or hi is None:  # resamples of too few cells
            return (f'{num(s[key])} [95% CI n/a: {n_ok} cells are too '
                    'few for a bootstrap]')
        return f'{num(s[key])} [95% CI {num(lo)}, {num(hi)}]'

    left = n_rows - n_ok
    left = (f' ({left} more left out: a run of each failed)' if left else
            '')
    caveat = (f' (n = {n_ok}: says nothing)' if n_ok < MIN_RANK_N
              else f', n = {n_ok}')
    lines = [f'{n_ok} cells x {seeds} seeds{left}, {seconds / 60:.1f} min',
             f'Spearman {ci("spearman")}, Kendall {ci("kendall")}{caveat}']
    if seeds > 1:
        lines += [f'{side}: seed-to-seed std {num(s[f"{side}_seed_std"])} '
                  f'mIoU, seed 0 vs seed 1 Spearman '
                  f'{num(s[f"{side}_seed_spearman"])}'
                  for side in ('proxy', 'full')]
    return lines


def cli() -> None:
    """The command: :func:`main`, then exit without the interpreter's
    teardown (every run has ended and everything is written)."""
    code = main()
    sys.stdout.flush()
    os._exit(code)


if __name__ == '__main__':
    cli()
