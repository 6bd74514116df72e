"""Seed noise of the full task: why do DPC heads vary more than ASPP?

    python tools/analysis/seed_noise.py SEARCH_CONFIG --work-dir D \
        [--seeds 6] [--cells 2] [--sample-seed 0] [--ablations A B ...]
        [--workers N] [--launcher local|ray] [--cfg-options k=v ...]

Trains the released cell (the search config's verdict baseline whose name
says "released", else the full config's own cell), ``--cells`` uniform
cells of the search space and the ASPP baseline (the verdict baseline
whose name says "ASPP") ``--seeds`` times each on the full task, as the
verdict trains them (``rerank``: full config, ``cfg_options``, the backbone
of ``init_from``), once as they are and once under each ablation: one
suspect of the noise changed at a time. Writes ``seed_noise.json`` and
``seed_noise.md``: each model's seed std and mean under each ablation, the
DPC heads' std against ASPP's (each, and pooled with its 95% interval and
the Brown-Forsythe p of equal spread: six seeds cannot tell 1.9x from 1x),
and the seeds a +-1.0 mIoU interval of each DPC head against ASPP needs.
The same command again trains only what is missing.

Ablations (``--ablations``, default all):
- ``no_cell_dropout``: no dropout on the cell's concatenation (the
  classifier's own dropout stays);
- ``element_dropout``: the cell's dropout drops single activations, as
  the reference's ``slim.dropout`` does, instead of whole feature maps;
- ``plain_conv``: plain ``nn.Conv2d`` instead of ``AtrousConv2d``, which
  skips the taps that read only padding (the same result by design);
- ``group_norm``: GroupNorm instead of BatchNorm in the head (BN
  statistics of chained branches, small batches);
- ``ema``: mmengine's ``EMAHook`` (weights averaged, momentum 0.02);
- ``long``: twice the fine-tuning iterations.
"""
import argparse
import copy
import json
import os
import os.path as osp
import statistics
import sys
from typing import Callable, Dict, List, Optional, Tuple


def _set(options: dict) -> Callable:
    def apply(cfg, is_dpc: bool):
        if is_dpc or not options.get('_dpc_only'):
            cfg.merge_from_dict({k: v for k, v in options.items()
                                 if k != '_dpc_only'})
        return cfg
    return apply


def _ema(cfg, is_dpc: bool):
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type='EMAHook', ema_type='ExponentialMovingAverage',
             momentum=0.02, priority='ABOVE_NORMAL')]
    return cfg


def _long(cfg, is_dpc: bool):
    from mmseg_dpc.tools.cli import schedule_options
    options = (o.split('=') for o in schedule_options(
        2 * cfg.train_cfg.max_iters))
    cfg.merge_from_dict({key: int(value) for key, value in options})
    return cfg


# ablations of a part only DPC heads have: ASPP is compared as it is
DPC_ONLY = ('no_cell_dropout', 'element_dropout', 'plain_conv')
# name -> (what it changes, how); None: as the verdict trains
ABLATIONS: Dict[str, Tuple[str, Optional[Callable]]] = {
    'as_is': ('as the verdict trains', None),
    'no_cell_dropout': ('no dropout on the cell\'s concatenation', _set(
        {'model.decode_head.cell_dropout_ratio': 0.0, '_dpc_only': True})),
    'element_dropout': ('the cell\'s dropout on single activations, as '
                        'the reference (not whole maps)', _set(
        {'model.decode_head.cell_dropout_type': 'element',
         '_dpc_only': True})),
    'plain_conv': ('nn.Conv2d instead of AtrousConv2d', _set(
        {'model.decode_head.conv_cfg': dict(type='Conv2d'),
         '_dpc_only': True})),
    'group_norm': ('GroupNorm(8) instead of BatchNorm in the head', _set(
        {'model.decode_head.norm_cfg': dict(type='GN', num_groups=8,
                                            requires_grad=True)})),
    'ema': ('EMA of the weights (EMAHook, momentum 0.02)', _ema),
    'long': ('twice the fine-tuning iterations', _long),
}


def parse_args():
    from mmseg_dpc.tools.cli import add_trial_run_args
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', help='search config (space, rerank, verdict)')
    p.add_argument('--work-dir', required=True)
    p.add_argument('--seeds', type=int, default=6)
    p.add_argument('--cells', type=int, default=2)
    p.add_argument('--sample-seed', type=int, default=0)
    p.add_argument('--ablations', nargs='+', choices=list(ABLATIONS),
                   default=list(ABLATIONS))
    add_trial_run_args(p)
    return p.parse_args()


def _baseline(verdict, word: str) -> Optional[Tuple[str, str]]:
    for name, path in (verdict.baselines if verdict else {}).items():
        if word.lower() in name.lower():
            return name, path
    return None


def models(st, space, cells: int, sample_seed: int):
    """``[(name, config path or None, cell or None, is DPC)]``: the
    released cell, ``cells`` uniform cells, the ASPP baseline."""
    out = []
    released = _baseline(st.verdict, 'released')
    out.append(('released cell', released[1] if released else None, None,
                True))
    seen = []
    for arch in space.samples(100 * cells, seed=sample_seed):
        if arch not in seen:
            seen.append(arch)
        if len(seen) == cells:
            break
    out += [(f'uniform cell {a.hash}', None, a, True) for a in seen]
    aspp = _baseline(st.verdict, 'aspp')
    if aspp is None:
        raise ValueError('the search config\'s verdict.baselines name no '
                         'ASPP model (a name with "ASPP" in it)')
    out.append((aspp[0], aspp[1], None, False))
    return out


def main() -> int:
    a = parse_args()
    import mmseg_dpc
    mmseg_dpc.register_all_modules()
    from mmseg_dpc import SEARCH_SPACES
    from mmseg_dpc.search.full_task import full_task_runner
    from mmseg_dpc.search.launchers import build_launcher
    from mmseg_dpc.search.settings import SearchSettings, check_workers
    from mmseg_dpc.tools.cli import load_config_file
    try:
        cfg = load_config_file(a.config)
        if a.cfg_options:
            cfg.merge_from_dict(a.cfg_options)
        st = SearchSettings.from_config(cfg)
        check_workers(a.workers, a.launcher)
        if st.rerank is None:
            raise ValueError('the search config has no rerank: its full '
                             'task is what the seeds are trained on')
        if a.seeds < 2:
            raise ValueError('--seeds must be >= 2')
        space = SEARCH_SPACES.build(st.search_space)
        chosen = models(st, space, a.cells, a.sample_seed)
    except (ValueError, KeyError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    wd = osp.abspath(a.work_dir)
    os.makedirs(wd, exist_ok=True)
    ablations = list(a.ablations)
    if 'as_is' not in ablations and set(ablations) & set(DPC_ONLY):
        # ASPP as it is is what a DPC-only ablation is compared with
        ablations.insert(0, 'as_is')
        print('[noise] as_is added: DPC-only ablations are compared with '
              'the ASPP head as it is (as_is runs done before are kept)',
              flush=True)
    runs = plan_runs(st.rerank, chosen, ablations, a.seeds, wd)
    launcher = build_launcher(a.launcher, a.workers, a.ray_address,
                              st.resources)
    runner = full_task_runner(st.rerank, launcher,
                              threads_per_trial=st.threads_per_trial)

    def before(kept, to_train):
        print(f'[noise] {kept} runs done before, {to_train} to train',
              flush=True)

    def after(run, record, done, total, eta):
        state = 'done' if record.complete else f'FAILED: {record.error}'
        print(f'[noise] {done}/{total} {run.key[0]} / {run.key[1]} seed '
              f'{run.key[2]} {state}; ETA {eta / 60:.1f} min', flush=True)

    try:
        records = runner.train(runs, st.poll_interval, before, after)
    finally:
        launcher.shutdown()
    table = summarize(chosen, ablations, records, a.seeds)
    with open(osp.join(wd, 'seed_noise.json'), 'w') as f:
        json.dump(table, f, indent=1)
    text = markdown(table)
    with open(osp.join(wd, 'seed_noise.md'), 'w') as f:
        f.write(text)
    print(text)
    return 0


def plan_runs(rerank, chosen, ablations, seeds: int, wd: str) -> list:
    """A full-task run per (model, ablation, seed): key ``(model name,
    ablation, seed)``, folder ``wd/model<i>/<ablation>-s<seed>``."""
    from mmseg_dpc.search.full_task import full_task_config
    from mmseg_dpc.search.runner import TrialRun
    runs = []
    for mi, (name, path, arch, is_dpc) in enumerate(chosen):
        base = full_task_config(rerank, path)
        for ablation in ablations:
            change = ABLATIONS[ablation][1]
            if change is not None and not is_dpc and ablation in DPC_ONLY:
                continue  # a DPC suspect: ASPP has no such part
            ablated = change(copy.deepcopy(base), is_dpc) if change else base
            for seed in range(1, seeds + 1):
                runs.append(TrialRun(
                    (name, ablation, seed), len(runs), arch,
                    osp.join(wd, f'model{mi}', f'{ablation}-s{seed}'), {},
                    seed=seed, base=ablated))
    return runs


def summarize(chosen, ablations, records, seeds) -> dict:
    """Each (model, ablation): mIoU per seed, mean and std."""
    rows = []
    for name, _, arch, is_dpc in chosen:
        for ablation in ablations:
            done = [s for s in range(1, seeds + 1)
                    if (name, ablation, s) in records
                    and records[(name, ablation, s)].complete]
            mious = [records[(name, ablation, s)].metrics['mIoU']
                     for s in done]
            if not mious:
                continue
            rows.append(dict(
                model=name, dpc=is_dpc, ablation=ablation,
                change=ABLATIONS[ablation][0], seeds=done, miou=mious,
                mean=statistics.mean(mious),
                std=statistics.stdev(mious) if len(mious) > 1 else None))
    return dict(seeds=list(range(1, seeds + 1)), rows=rows)


HALF_WIDTH = 1.0  # mIoU: #20's target for "searched cell vs ASPP"
# a full verdict's: the median cell, ASPP and the released cell (the
# demo's makes one, ASPP: its level is the 95% column)
VERDICT_COMPARISONS = 3


def aspp_reference(rows: List[dict]) -> Callable[[str], Optional[dict]]:
    """The ASPP row a DPC row of an ablation is compared with: ASPP's own
    under that ablation, its as_is one for a DPC-only ablation."""
    aspp = next((r['model'] for r in rows if not r['dpc']), None)
    cell = {(r['model'], r['ablation']): r for r in rows}
    return lambda ab: cell.get((aspp, 'as_is' if ab in DPC_ONLY else ab))


def markdown(table: dict) -> str:
    """Seed std (mean) of each model under each ablation, each DPC head's
    std against the ASPP head's under the same ablation, and the DPC
    heads' pooled std against ASPP's with its interval and the
    Brown-Forsythe p-value of equal spread: whether a ratio is more than
    these seeds' sampling error."""
    from mmseg_dpc.search.comparison import noise_ratio
    rows: List[dict] = table['rows']
    names = list(dict.fromkeys(r['model'] for r in rows))
    ablations = list(dict.fromkeys(r['ablation'] for r in rows))
    cell = {(r['model'], r['ablation']): r for r in rows}
    reference = aspp_reference(rows)
    lines = ['| ablation | ' + ' | '.join(names) +
             ' | DPC std / ASPP std | DPC heads pooled / ASPP (95% CI), '
             'p equal spread |',
             '| --- |' + ' --- |' * (len(names) + 2)]

    def fmt(r):
        if r is None:
            return 'n/a'
        std = 'n/a' if r['std'] is None else f'{r["std"]:.2f}'
        return f'{std} ({r["mean"]:.2f})'

    for ab in ablations:
        base = reference(ab)
        dpc = [cell[(n, ab)] for n in names if (n, ab) in cell
               and cell[(n, ab)]['dpc'] and len(cell[(n, ab)]['miou']) > 1]
        usable = base is not None and bool(base['std'])
        ratios = ', '.join(f'{r["std"] / base["std"]:.1f}x'
                           for r in dpc) if usable and dpc else 'n/a'
        pooled = 'n/a'
        if usable and dpc and len(base['miou']) > 1:
            n = noise_ratio([r['miou'] for r in dpc], [base['miou']])
            p = 'n/a' if n.p is None else f'{n.p:.2f}'
            pooled = (f'{n.ratio:.2f}x [{n.ci[0]:.2f}, {n.ci[1]:.2f}], '
                      f'p {p}')
        lines.append(f'| {ab} | ' + ' | '.join(
            fmt(cell.get((n, ab))) for n in names) +
            f' | {ratios} | {pooled} |')
    return (f'Seed std (mean) of mIoU over seeds {table["seeds"][0]}-'
            f'{table["seeds"][-1]}; ASPP rows of DPC-only ablations use '
            'ASPP as is. Pooled: the DPC heads\' runs about each head\'s '
            'own mean; interval from the F distribution, p from the '
            'Brown-Forsythe test, both taking the runs as independent (runs '
            'that share a seed share its data order: where that noise is '
            'common, the interval is too narrow).\n\n'
            + '\n'.join(lines) + '\n\n' + seeds_needed(table))


def seeds_needed(table: dict, half_width: float = HALF_WIDTH) -> str:
    """What a verdict against ASPP needs: the std of each DPC head's
    difference from ASPP paired by seed, and the seeds that bring its 95%
    interval to +-``half_width``, alone and at Holm's first level among
    :data:`VERDICT_COMPARISONS` comparisons."""
    from mmseg_dpc.search.comparison import seeds_for
    rows: List[dict] = table['rows']
    reference = aspp_reference(rows)
    holm = 1 - 0.05 / VERDICT_COMPARISONS
    lines = [f'Seeds for a +-{half_width} mIoU interval of a DPC head '
             f'against ASPP (paired by seed; Holm: the first of '
             f'{VERDICT_COMPARISONS} comparisons, at {100 * holm:.1f}%):',
             '', '| ablation | model | std of the paired difference | '
             'seeds at 95% | seeds with Holm |', '| --- | --- | --- | --- '
             '| --- |']
    order = list(dict.fromkeys(r['ablation'] for r in rows))
    for r in sorted(rows, key=lambda r: order.index(r['ablation'])):
        base = reference(r['ablation'])
        if not r['dpc'] or base is None:
            continue
        a = dict(zip(r.get('seeds', table['seeds']), r['miou']))
        b = dict(zip(base.get('seeds', table['seeds']), base['miou']))
        diffs = [a[k] - b[k] for k in a if k in b]
        if len(diffs) < 2:
            continue
        sd = statistics.stdev(diffs)
        n95, nholm = (seeds_for(sd, half_width, c) for c in (0.95, holm))
        lines.append(f'| {r["ablation"]} | {r["model"]} | {sd:.2f} | '
                     f'{n95} | {nholm} |')
    return '\n'.join(lines) + '\n'


def cli() -> None:
    """The command: :func:`main`, then exit without the interpreter's
    teardown."""
    code = main()
    sys.stdout.flush()
    os._exit(code)


if __name__ == '__main__':
    cli()
