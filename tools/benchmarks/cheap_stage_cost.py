"""How many cells an hour does each stage rank, on the demo's proxy task?

    python tools/benchmarks/cheap_stage_cost.py [--cells 1000]
        [--proxy-cells 4] [--zero-cost-cells 200] [--scores naswot ...]
        [--stages proxy one_shot zero_cost] [--sharing position]
        [--supernet-iters N] [--device cpu] [--work-dir DIR] [--quick]

On the demo's task (`make demo`'s generated data, backbone and feature
cache, its search config's 150-iteration proxy), in one run:

- the stand-alone proxy: ``--proxy-cells`` uniform cells trained as search
  trials (one process each, one at a time); seconds per cell = their mean
  wall time;
- one-shot: the supernet of the search space trained once (as a one_shot
  search trains it, ``--supernet-iters``, default the proxy's), then
  ``--cells`` uniform cells scored with inherited weights (the search's
  CheapStage); cells per hour with the supernet's training amortised over
  1,000 and over 28,000 cells (measured where ``--cells`` reaches it,
  else extrapolated from the measured seconds per cell, and said so);
- each zero-cost score of ``--scores`` (default all) on
  ``--zero-cost-cells`` cells.

Prints cells per hour and the ratio to the proxy's for each stage, what
dominates the one-shot stage (supernet training against scoring), and the
peak resident memory of the scoring process and of the training
processes. The work dir is kept: a re-run reuses every trained run and
scored cell, and reads the times back from their records. Targets: one-shot
>= 25x the proxy's cells per hour at 1,000 cells, >= 50x at 28,000;
zero-cost >= 100x. The paper's 28,000 cells in one command:
``--cells 28000 --stages proxy one_shot``.
"""
import argparse
import os
import os.path as osp
import resource
import sys
import tempfile
import time
from dataclasses import replace

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AMORTISED = (1000, 28000)
STAGES = ('proxy', 'one_shot', 'zero_cost')


def prepare(wd, quick):
    """The demo's data, backbone and feature cache (its own steps), and
    the search config with the demo's proxy options."""
    from mmengine.config import Config

    from mmseg_dpc.tools import demo
    from mmseg_dpc.tools.cli import load_config_file
    s = demo.settings(quick)
    data = demo.make_data(wd, s, 3)
    ckpt = demo.train_backbone(wd, s, data, 3, keep=True)
    search_config = demo.cache(wd, data, ckpt, 3, keep=True)
    cfg = load_config_file(search_config)
    options = {}
    for opt in demo.proxy_and_full_options(s, data, ckpt, wd):
        key, value = opt.split('=', 1)
        options[key] = int(value) if value.isdigit() else value
    cfg.merge_from_dict(options)
    return Config(cfg.to_dict(), filename=cfg.filename), s


def peak_rss_mib(who):
    return resource.getrusage(who).ru_maxrss / 1024


def cells_per_hour(fixed_s, per_cell_s, n):
    return 3600 * n / (fixed_s + per_cell_s * n)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--cells', type=int, default=1000,
                   help='cells scored one-shot')
    p.add_argument('--proxy-cells', type=int, default=4)
    p.add_argument('--zero-cost-cells', type=int, default=200)
    p.add_argument('--scores', nargs='+', default=None,
                   help='zero-cost scores (default: all registered)')
    p.add_argument('--stages', nargs='+', choices=STAGES,
                   default=list(STAGES))
    p.add_argument('--sharing', choices=['rate_pair', 'position'],
                   default='position')
    p.add_argument('--supernet-iters', type=int, default=None)
    p.add_argument('--bn-batches', type=int, default=4)
    p.add_argument('--device', default='cpu')
    p.add_argument('--work-dir', help='kept; a re-run reuses what is there')
    p.add_argument('--quick', action='store_true', help='tiny, for tests')
    a = p.parse_args()
    if a.quick:
        a.cells = min(a.cells, 6)
        a.proxy_cells = min(a.proxy_cells, 1)
        a.zero_cost_cells = min(a.zero_cost_cells, 2)
        a.bn_batches = 1
    start = time.time()
    wd = osp.abspath(a.work_dir or tempfile.mkdtemp(prefix='cheap_cost_'))
    os.makedirs(wd, exist_ok=True)
    cfg, s = prepare(wd, a.quick)

    import mmseg_dpc
    mmseg_dpc.register_all_modules()
    from mmseg_dpc import SEARCH_SPACES
    from mmseg_dpc.feature_cache import check_proxy_cache
    from mmseg_dpc.search.cheap_stage import CheapStage
    from mmseg_dpc.search.cost import proxy_head_cost
    from mmseg_dpc.search.launchers import build_launcher
    from mmseg_dpc.search.runner import load_base_config
    from mmseg_dpc.search.settings import (CheapStageSettings,
                                           SearchSettings, StrategySettings)
    from mmseg_dpc.utils.third_party_log import third_party_log
    st = SearchSettings.from_config(cfg)
    space = SEARCH_SPACES.build(st.search_space)
    proxy = load_base_config(st.proxy_config, st.proxy_cfg_options)
    cost = proxy_head_cost(proxy, check_proxy_cache(proxy))
    iters = proxy.train_cfg.max_iters
    launcher = build_launcher('local', 1)
    print(f'demo proxy task: {space}, {iters}-iteration proxy trials, '
          f'one process at a time, scoring on {a.device}; work dir {wd}',
          flush=True)

    def stage(kind, n, **kw):
        strategy = StrategySettings(kind, 0, {}, CheapStageSettings(
            kind, candidates=n, device=a.device, **kw))
        name = kw.get('score') if kind == 'zero_cost' else \
            f'one_shot-{a.sharing}'
        return CheapStage(replace(st, num_trials=1, strategy=strategy),
                          space, proxy, cost, osp.join(wd, 'cheap', name))

    rows = []  # (stage, cells measured, s per cell, fixed s)
    # third-party messages (init_weights, warnings) to a file
    with third_party_log(osp.join(wd, 'third_party.log')) as log:
        measure(a, wd, st, space, proxy, cost, launcher, stage, rows)
    if log.summary():
        print(f'[cheap_stage_cost] {log.summary()}')
    report(rows, start)


def measure(a, wd, st, space, proxy, cost, launcher, stage, rows):
    """Train and score what each stage needs (kept runs and scores
    reused), appending ``(stage, cells, s per cell, fixed s)`` to
    ``rows``."""
    from mmseg_dpc.search.cheap_stage import uniform_candidates
    from mmseg_dpc.search.runner import (TrialRun, TrialRunner,
                                         trial_dir_name)
    from mmseg_dpc.search.zero_cost import score_names
    iters = proxy.train_cfg.max_iters
    try:
        if 'proxy' in a.stages:
            cells = uniform_candidates(space, a.proxy_cells, seed=0)
            runner = TrialRunner(launcher, proxy, st.seed,
                                 threads_per_trial=os.cpu_count())
            runs = [TrialRun(i, i, arch, osp.join(
                wd, 'proxy', trial_dir_name(i, arch)), cost(arch.branches))
                for i, arch in enumerate(cells)]
            records = runner.train(runs, st.poll_interval).values()
            walls = [r.wall_time for r in records if r.complete]
            if not walls:
                sys.exit('no proxy trial completed (see '
                         f'{osp.join(wd, "proxy")})')
            rows.append(('proxy (stand-alone)', len(walls),
                         sum(walls) / len(walls), 0.0))
        if 'one_shot' in a.stages:
            supernet_iters = a.supernet_iters or iters
            one_shot = stage(
                'one_shot', a.cells, sharing=a.sharing,
                bn_batches=a.bn_batches, supernet_cfg_options=dict(
                    train_cfg=dict(max_iters=supernet_iters,
                                   val_interval=supernet_iters),
                    param_scheduler={'0': dict(end=supernet_iters)},
                    default_hooks=dict(checkpoint=dict(
                        interval=supernet_iters))))
            scores = one_shot.scores(launcher, st.poll_interval)
            train_s = one_shot.supernet_seconds()
            score_s = sum(x.seconds for x in scores)
            rows.append((f'one-shot ({a.sharing}, supernet '
                         f'{supernet_iters} it)', len(scores),
                         score_s / len(scores), train_s))
            print(f'one-shot: supernet training {train_s:.1f} s, scoring '
                  f'{len(scores)} cells {score_s:.1f} s (first batch with '
                  f'the loading of the BN and validation maps): '
                  f'{"scoring" if score_s > train_s else "supernet training"}'
                  f' dominates at {len(scores)} cells; at 28,000 cells '
                  f'scoring is {28000 * score_s / len(scores):.0f} s',
                  flush=True)
        if 'zero_cost' in a.stages:
            for name in a.scores or score_names():
                scores = stage('zero_cost', a.zero_cost_cells,
                               score=name).scores()
                rows.append((f'zero-cost {name}', len(scores),
                             sum(x.seconds for x in scores) / len(scores),
                             0.0))
    finally:
        launcher.shutdown()


def report(rows, start):
    """The table of cells per hour, the targets and the memory."""
    proxy_rate = next((3600 / r[2] for r in rows if r[0].startswith(
        'proxy')), None)
    print(f'{"stage":<38} | {"cells":>6} | {"s/cell":>8} | '
          f'{"fixed s":>8} | ' + ' | '.join(
              f'{"cells/h @" + format(n, ","):>15} | {"x proxy":>8}'
              for n in AMORTISED))
    for name, n, per, fixed in rows:
        cols = []
        for total in AMORTISED:
            rate = cells_per_hour(fixed, per, total)
            ratio = f'{rate / proxy_rate:.1f}x' if proxy_rate else 'n/a'
            note = '' if fixed == 0 or n >= total else '*'
            cols.append(f'{rate:>14,.0f}{note or " "} | {ratio:>8}')
        print(f'{name:<38} | {n:>6} | {per:>8.3f} | {fixed:>8.1f} | '
              + ' | '.join(cols))
    if any(fixed and n < max(AMORTISED) for _, n, _, fixed in rows):
        print('* extrapolated from the seconds per cell measured on fewer '
              'cells (the supernet\'s training counted in full)')
    print('targets: one-shot >= 25x the proxy at 1,000 cells, >= 50x at '
          '28,000; zero-cost >= 100x')
    print(f'peak resident memory: this process (scoring) '
          f'{peak_rss_mib(resource.RUSAGE_SELF):,.0f} MiB, training '
          f'processes {peak_rss_mib(resource.RUSAGE_CHILDREN):,.0f} MiB '
          '(the largest one)')
    print(f'wall time of this benchmark: {(time.time() - start) / 60:.1f} '
          'min (times above read from the records, kept across re-runs)')


if __name__ == '__main__':
    main()
