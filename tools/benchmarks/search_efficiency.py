"""Do successive halving or a cheap stage find the same cells with less
proxy compute?

    python tools/benchmarks/search_efficiency.py [--seeds 0 1 2]
        [--trials N] [--iters N] [--min-resource 30] [--reduction-factor 3]
        [--arms none SHA one_shot zero_cost] [--candidates 1000]
        [--zero-cost-score naswot] [--supernet-iters N]
        [--work-dir DIR] [--quick]

On the demo's proxy task (`make demo`'s steps 1-3: the generated data set,
the backbone, its cached features, kept where the work dir has them; its
search config, 16 trials of 150 iterations), random search runs with and
without successive halving, for each seed, with the same number of sampled
architectures (``num_trials`` counts evaluated trials, complete or pruned;
the same seed samples the same cells). Both validate at the same rungs, so
only the pruning differs. The prefiltered arms (``one_shot``,
``zero_cost``: the search strategies of that name) rank ``--candidates``
uniform cells by their cheap stage first and train the best ``--trials``
of them on the proxy (the same cells' budget); their cheap stage's compute
(supernet training and scoring, in seconds) is counted as proxy iterations
at the no-pruning arm's median seconds per iteration (a trial's wall time
over its iterations), times the workers (the cheap stage holds every core
while the trials share them), and comes first.
Prints, per seed and as the median over seeds:

(a) proxy iterations spent (a pruned trial: the iterations it trained),
(b) the best proxy mIoU found (complete trials),
(c) the proxy iterations spent, in the order trials finished, until a
    complete trial first came within 0.5 mIoU of the no-pruning run's final
    best (or never),

and the median proxy mIoU of each arm's complete trials (how good the
cells it proposes are); then, from the no-pruning runs, how well each
rung's ranking predicts the final one (Spearman), and what validating at a
rung costs against the training between rungs. Targets: (c) with pruning
at most 1/3 of (a) without, median over seeds; (c) of a prefiltered arm at
most 1/5 of (a) without, its best never more than 0.5 mIoU below.
"""
import argparse
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

import optuna
from scipy.stats import spearmanr

from mmseg_dpc.engine import read_metrics_file
from mmseg_dpc.search.cheap_stage import SUPERNET_DIR, read_scores
from mmseg_dpc.search.progress import num
from mmseg_dpc.search.record import TrialRecord, evaluated_records
from mmseg_dpc.tools.cli import data_root_options, schedule_options

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def run(args, log):
    with open(log, 'w') as f:
        subprocess.run([sys.executable, *args], cwd=REPO, check=True,
                       stdout=f, stderr=subprocess.STDOUT)


def prepare(wd, quick):
    """The demo's data, backbone and feature cache (its own steps 1-3,
    kept where they exist: ``--work-dir work_dirs/demo`` reuses a finished
    ``make demo``'s), the search config it searches with, and its settings
    (the proxy's iterations, the search's trials)."""
    from mmseg_dpc.tools import demo
    s = demo.settings(quick)
    data = demo.make_data(wd, s, 3)
    ckpt = demo.train_backbone(wd, s, data, 3, keep=True)
    search_config = demo.cache(wd, data, ckpt, 3, keep=True)
    return ckpt, osp.join(wd, 'feature_cache'), search_config, s


ARMS = ('none', 'SHA', 'one_shot', 'zero_cost')


def strategy(arm, a):
    """The search config's ``strategy`` of a prefiltered arm (``None``:
    random search)."""
    if arm == 'zero_cost':
        return dict(type='zero_cost', score=a.zero_cost_score,
                    candidates=a.candidates)
    if arm == 'one_shot':
        iters = a.supernet_iters or a.iters
        return dict(type='one_shot', candidates=a.candidates,
                    bn_batches=a.bn_batches, supernet_cfg_options=dict(
                        train_cfg=dict(max_iters=iters, val_interval=iters),
                        param_scheduler={'0': dict(end=iters)},
                        default_hooks=dict(checkpoint=dict(interval=iters))))
    return None


def cheap_seconds(out):
    """Seconds the search's cheap stage spent: its supernet run's wall
    time and its cells' scoring."""
    rec = TrialRecord.read(osp.join(out, SUPERNET_DIR))
    return ((rec.wall_time or 0.0) if rec else 0.0) + sum(
        s.seconds for s in read_scores(out))


def search(wd, name, seed, a, ckpt, cache, search_config, arm):
    """One search of ``arm``; returns its evaluated trials as dicts, in
    the order they finished, and its cheap stage's seconds."""
    pruner = arm == 'SHA'
    out = osp.join(wd, name)
    rungs = rung_steps(a)
    opts = [f'num_trials={a.trials}', 'rerank=None', 'verdict=None',
            f'strategy.seed={seed}', f'study_name={name}',
            *schedule_options(a.iters, 'proxy_cfg_options.'),
            f'proxy_cfg_options.feature_checkpoint={ckpt}',
            *data_root_options(cache, 'proxy_cfg_options.')]
    # every arm validates at the rungs: only the pruning differs
    config = osp.join(wd, f'search_config_{arm}.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = [{search_config!r}]\n'
                'proxy_cfg_options = dict(custom_hooks=[dict(\n'
                f'    type="MetricsFileHook", rungs={rungs})])\n')
        if strategy(arm, a) is not None:
            f.write(f'strategy = {strategy(arm, a)!r}\n')
    if pruner:
        opts += ['pruner.type=SuccessiveHalving',
                 f'pruner.min_resource={a.min_resource}',
                 f'pruner.reduction_factor={a.reduction_factor}']
    if not osp.exists(osp.join(out, 'summary.json')):
        run(['tools/search.py', config, '--work-dir', out, '--workers',
             str(a.workers), '--cfg-options', *opts],
            osp.join(wd, f'{name}.log'))
    study = optuna.load_study(study_name=name,
                              storage=f'sqlite:///{out}/study.db')
    trials = []
    for r in evaluated_records(study.get_trials()):
        val = read_metrics_file(r.run_dir)['val']
        trials.append(dict(
            number=r.trial, complete=r.complete, value=r.metrics['mIoU'],
            iters=r.stopped_at or a.iters,
            curve={v['step']: v['mIoU'] for v in val},
            val_s=[v['val_s'] for v in val], time=[v['time'] for v in val],
            wall=r.wall_time or 0.0))
    return trials, cheap_seconds(out)


def rung_steps(a):
    from mmseg_dpc.search.pruning import rung_steps as steps
    return steps(dict(type='SuccessiveHalving', min_resource=a.min_resource,
                      reduction_factor=a.reduction_factor), a.iters)


def iters_to_reach(trials, target, spent=0):
    for t in trials:
        spent += t['iters']
        if t['complete'] and t['value'] >= target:
            return spent
    return None


def fmt(v):
    return 'never' if v is None else f'{v:,}'


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--trials', type=int, default=None,
                   help='cells each search evaluates (default: the demo\'s)')
    p.add_argument('--iters', type=int, default=None,
                   help='proxy iterations a trial (default: the demo\'s)')
    p.add_argument('--min-resource', type=int, default=30)
    p.add_argument('--reduction-factor', type=int, default=3)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--arms', nargs='+', choices=ARMS, default=list(ARMS),
                   help='none (random search, the reference) always runs')
    p.add_argument('--candidates', type=int, default=1000,
                   help='cells a prefiltered arm ranks by its cheap stage')
    p.add_argument('--zero-cost-score', default='naswot')
    p.add_argument('--supernet-iters', type=int, default=None,
                   help='the one-shot supernet\'s iterations (default: '
                   'the proxy\'s)')
    p.add_argument('--bn-batches', type=int, default=4,
                   help='one-shot scoring\'s BN re-estimation batches')
    p.add_argument('--work-dir', help='kept; a re-run reuses what is there')
    p.add_argument('--quick', action='store_true', help='tiny, for tests')
    return p.parse_args()


def summarize(arms, rows) -> None:
    """The medians over seeds, and each arm against random search."""
    print('median over seeds:')
    for arm in arms:
        reach = [r[arm]['reach'] for r in rows]
        med = (statistics.median(reach) if None not in reach else
               'never in ' + str(sum(x is None for x in reach)) + ' seeds')
        spent = statistics.median(r[arm]['iters'] for r in rows)
        print(f'  {arm:<9} (a) {spent:>9,.0f}'
              f'  (b) {statistics.median(r[arm]["best"] for r in rows):.2f}'
              f'  (c) {med if isinstance(med, str) else f"{med:,.0f}"}')
    print('median proxy mIoU of the cells each arm trained to the end '
          '(what it proposes; SHA: its survivors), per seed:')
    for arm in arms:
        print(f'  {arm:<9} ' + ', '.join(num(r[arm]['typical'])
                                         for r in rows))
    for arm in arms[1:]:
        target = 1 / 3 if arm == 'SHA' else 1 / 5
        ratios = [r[arm]['reach'] / r['none']['iters']
                  if r[arm]['reach'] is not None else None for r in rows]
        shown = ', '.join('never' if x is None else f'{x:.2f}'
                          for x in ratios)
        known = sorted(x if x is not None else float('inf') for x in ratios)
        med = known[len(known) // 2]
        print(f'{arm} (c) / no-pruning (a), per seed: {shown}; median '
              f'{med:.2f} (target <= {target:.2f}): '
              f'{"met" if med <= target else "NOT met"}')
        spent = [r[arm]['iters'] / r['none']['iters'] for r in rows]
        print(f'{arm} (a) / no-pruning (a), per seed: ' +
              ', '.join(f'{x:.2f}' for x in spent) +
              f'; median {statistics.median(spent):.2f}')
        gaps = [r['none']['best'] - r[arm]['best'] for r in rows]
        print(f'best mIoU lost by {arm}, per seed: ' +
              ', '.join(f'{g:.2f}' for g in gaps) +
              ('' if arm == 'SHA' else
               f' (target: never more than 0.5: '
               f'{"met" if max(gaps) <= 0.5 else "NOT met"})'))


def rung_fidelity(a, full) -> None:
    """How early the ranking is known: each rung's mIoU against the final
    one (random search runs: every cell trained), and what a rung costs."""
    print('Spearman of each rung\'s mIoU with the final mIoU (no-pruning '
          'runs, per seed):')
    for step in rung_steps(a):
        rhos = []
        for trials in full:
            pairs = [(t['curve'][step], t['value']) for t in trials
                     if step in t['curve']]
            x, y = zip(*pairs) if pairs else ((), ())
            rho = (spearmanr(x, y)[0] if len(set(x)) > 1 and len(set(y)) > 1
                   else None)
            rhos.append(num(None if rho is None or rho != rho else rho))
        print(f'  iteration {step:>4} ({step / a.iters:4.0%} of training): '
              + ', '.join(rhos))
    val_s = [v for trials in full for t in trials for v in t['val_s'][:-1]]
    times = [t['time'] for trials in full for t in trials]
    train_between = statistics.median(
        (b - a_) for ts in times for a_, b in zip([0.0] + ts[:-1], ts))
    if val_s:
        print(f'validation at a rung: median {statistics.median(val_s):.2f}'
              f' s against {train_between:.2f} s between validations '
              '(training + validation)')


def main():
    a = parse_args()
    arms = ['none'] + [arm for arm in ARMS if arm in a.arms and
                       arm != 'none']
    start = time.time()
    wd = osp.abspath(a.work_dir or
                     tempfile.mkdtemp(prefix='search_efficiency_'))
    os.makedirs(wd, exist_ok=True)
    ckpt, cache, search_config, s = prepare(wd, a.quick)
    a.trials = s['trials'] if a.trials is None else a.trials
    a.iters = s['proxy_iters'] if a.iters is None else a.iters
    if a.quick:  # tiny whatever was asked
        a.iters, a.min_resource, a.trials = 8, 2, min(a.trials, 4)
        a.candidates, a.bn_batches = min(a.candidates, 12), 1
    print(f'demo proxy task, {a.trials} sampled cells of {a.iters} '
          f'iterations, random search; successive halving: min_resource '
          f'{a.min_resource}, reduction factor {a.reduction_factor}, rungs '
          f'{rung_steps(a)}; {a.workers} workers', flush=True)
    if set(arms) & {'one_shot', 'zero_cost'}:
        cheap = [arm for arm in arms if arm in ('one_shot', 'zero_cost')]
        print(f'prefiltered arms: the best {a.trials} of {a.candidates} '
              f'uniform cells by {", ".join(cheap)} (zero-cost score '
              f'{a.zero_cost_score}); their cheap stage counted as proxy '
              'iterations', flush=True)
    rows, full = [], []
    print(f'{"seed":>4} | {"arm":<9} | {"(a) iterations":>14} | '
          f'{"(b) best mIoU":>13} | {"(c) iterations to best-0.5":>26} | '
          'pruned | cheap stage')
    names = dict(none='full', SHA='sha', one_shot='one-shot',
                 zero_cost='zero-cost')
    for seed in a.seeds:
        runs = {arm: search(wd, f'seed{seed}_{names[arm]}', seed, a, ckpt,
                            cache, search_config, arm) for arm in arms}
        base = runs['none'][0]
        full.append(base)
        target = max(t['value'] for t in base if t['complete']) - 0.5
        # seconds of proxy compute per iteration (a trial's wall time)
        per_iter = statistics.median(t['wall'] / t['iters'] for t in base)
        row = {}
        for arm in arms:
            trials, seconds = runs[arm]
            # the cheap stage holds the whole machine (every core) while
            # `workers` trials share it: a second of it is `workers`
            # trial-seconds
            cheap = (round(seconds * a.workers / per_iter) if per_iter > 0
                     else 0)
            done = [t for t in trials if t['complete']]
            row[arm] = dict(
                iters=cheap + sum(t['iters'] for t in trials),
                best=max(t['value'] for t in done) if done else None,
                typical=(statistics.median(t['value'] for t in done)
                         if done else None),
                reach=iters_to_reach(trials, target, cheap),
                pruned=sum(not t['complete'] for t in trials),
                cheap=cheap, cheap_s=seconds)
            r = row[arm]
            shown = (f'{cheap:,} iterations ({seconds:.1f} s x '
                     f'{a.workers} workers / {per_iter:.3f} s an iteration)'
                     if arm in ('one_shot', 'zero_cost') else '')
            print(f'{seed:>4} | {arm:<9} | {r["iters"]:>14,} | '
                  f'{r["best"]:>13.2f} | {fmt(r["reach"]):>26} | '
                  f'{r["pruned"]:>6} | {shown}', flush=True)
        rows.append(row)
    summarize(arms, rows)
    rung_fidelity(a, full)
    print(f'wall time of this benchmark: {(time.time() - start) / 60:.1f} '
          f'min (work dir {wd})')


if __name__ == '__main__':
    main()
