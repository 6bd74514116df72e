"""The whole paper pipeline on the embedded generated data set.

    python tools/demo.py [--work-dir work_dirs/demo] [--quick] [--fidelity]

1. write the generated data set (objects at several scales; a disc's class
   depends on its context);
2. train the demo model briefly (MobileNetV2 x0.5 + the released DPC cell):
   no pretrained weights can be downloaded, so this makes the backbone;
3. cache that backbone's features of train and val;
4. search the DPC space on the proxy task (cells trained alone on the
   cached features), re-rank the best cells on the full task (each model
   starts from the step-2 backbone, its head from scratch), then the
   verdict: the best re-ranked cell, the search's median cell, mmseg's
   ASPP head and the released cell, each trained on the full task with 3
   more seeds (the search config's ``verdict``);
5. write the report (plots, leaderboard, proxy vs full, the verdict).

With ``--fidelity`` (``make fidelity``), steps 4-5 give way to the proxy
fidelity study (``tools/analysis/proxy_fidelity.py``) on the same proxy and
full task: 16 uniform cells x 2 seeds. Steps 2 and 3 are skipped where
their results exist in the work dir.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

DPC = 'configs/dpc/dpc_mobilenet-v2-d8_1xb4-300_synthetic-shapes-192x192.py'
SEARCH = 'configs/search/dpc-search_random-16_synthetic-shapes-192x192.py'
IMAGE_SIZE = 192  # the configs' crop: 24x24 feature maps at output stride 8

# (full run, --quick): minutes `make demo` took on the development machine
# (2 CPU cores, otherwise idle), and the sizes of each step
EXPECTED_MINUTES = dict(demo=(11, 2), fidelity=(22, 2))
SETTINGS = dict(
    num_train=(256, 16), num_val=(64, 8), backbone_iters=(300, 10),
    trials=(16, 4), proxy_iters=(150, 10), top_k=(2, 2),
    finetune_iters=(150, 6), verdict_seeds=(3, 2), workers=(2, 2),
    fidelity_cells=(16, 3), fidelity_seeds=(2, 2))


# lines of a step's output shown on the terminal too (the rest: its log)
PROGRESS = ('[search] ', '[rerank] ', '[verdict] ')


def run(step: str, tool: str, args, log: str) -> None:
    """Run ``tool`` (a module of :mod:`mmseg_dpc.tools`) in its own
    process, its output to ``log`` and its progress lines (trials done,
    best so far, ETA) to the terminal; stop on failure."""
    start = time.time()
    print(f'[demo] {step} ...', flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    with open(log, 'w') as f:
        proc = subprocess.Popen([sys.executable, '-m',
                                 f'mmseg_dpc.tools.{tool}', *args], env=env,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            f.write(line)
            if line.startswith('[fidelity] ') or (
                    line.startswith(PROGRESS) and (
                        ' done, ' in line or 'Spearman' in line
                        or line.startswith(('[rerank] top', '[verdict] ')))):
                print(f'[demo]   {line.rstrip()}', flush=True)
        proc.wait()
    if proc.returncode != 0:
        with open(log) as f:
            tail = ''.join(f.readlines()[-20:])
        sys.exit(f'[demo] {step} failed (exit {proc.returncode}); end of '
                 f'{log}:\n{tail}')
    print(f'[demo] {step} done in {time.time() - start:.0f}s (log: {log})',
          flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--work-dir', default='work_dirs/demo')
    p.add_argument('--quick', action='store_true',
                   help='tiny sizes, for tests (about 2 minutes)')
    p.add_argument('--fidelity', action='store_true',
                   help='the proxy fidelity study instead of the search')
    a = p.parse_args()
    s = {k: v[1 if a.quick else 0] for k, v in SETTINGS.items()}
    wd = osp.abspath(a.work_dir)
    os.makedirs(wd, exist_ok=True)
    start = time.time()
    job = 'fidelity' if a.fidelity else 'demo'
    n = 4 if a.fidelity else 5  # steps
    print(f'[demo] expected time: about '
          f'{EXPECTED_MINUTES[job][1 if a.quick else 0]} minutes on 2 CPU '
          f'cores ({os.cpu_count()} here)', flush=True)

    from mmseg_dpc.datasets import generate_synthetic_shapes
    from mmseg_dpc.tools.cli import data_root_options, schedule_options
    from mmseg_dpc.utils.config import shipped_config
    data = osp.join(wd, 'data')
    try:
        generate_synthetic_shapes(data, s['num_train'], s['num_val'],
                                  IMAGE_SIZE)
    except ValueError as e:  # e.g. a work dir of an older demo
        sys.exit(f'[demo] error: {e}')
    print(f'[demo] 1/{n} data: {s["num_train"]} train / {s["num_val"]} val '
          f'images in {data}')

    backbone = osp.join(wd, 'backbone')
    it = s['backbone_iters']
    ckpt = osp.join(backbone, f'iter_{it}.pth')
    if not (a.fidelity and osp.exists(ckpt)):
        run(f'2/{n} brief full training (backbone + released DPC cell)',
            'train', [shipped_config(DPC), '--work-dir', backbone,
                      '--cfg-options', *schedule_options(it),
                      *data_root_options(data)],
            osp.join(wd, 'backbone.log'))

    cache = osp.join(wd, 'feature_cache')
    from mmengine.config import Config
    search_config = shipped_config(SEARCH)
    search_cfg = Config.fromfile(search_config)
    levels = Config.fromfile(shipped_config(
        search_cfg.proxy_config)).feature_levels  # what the proxy reads
    cached = osp.exists(osp.join(cache, 'val', 'manifest.json'))
    if not (a.fidelity and cached):
        run(f'3/{n} feature cache',
            'cache_features', [shipped_config(DPC), '--out', cache,
                               '--levels', *map(str, levels),
                               '--checkpoint', ckpt, '--cfg-options',
                               *data_root_options(data)],
            osp.join(wd, 'cache.log'))

    fi, pi = s['finetune_iters'], s['proxy_iters']
    # every compared head starts from the step-2 backbone and nothing else,
    # the whole model trained at the schedule's learning rate (the heads
    # start from scratch: at 0.01, 150 iterations left them unconverged,
    # seed std 5.2 mIoU against 0.8 at 0.05)
    finetune = schedule_options(fi)
    proxy_and_full = [
        f'rerank.init_from={ckpt}',
        *schedule_options(pi, 'proxy_cfg_options.'),
        f'proxy_cfg_options.feature_checkpoint={ckpt}',
        *data_root_options(cache, 'proxy_cfg_options.'),
        *[f'rerank.cfg_options.{o}'
          for o in finetune + data_root_options(data)]]
    if a.fidelity:
        run(f'4/4 proxy fidelity: {s["fidelity_cells"]} cells x '
            f'{s["fidelity_seeds"]} seeds on the proxy and the full task',
            'analysis.proxy_fidelity', [
                search_config, '--work-dir', osp.join(wd, 'fidelity'),
                '--cells', str(s['fidelity_cells']),
                '--seeds', str(s['fidelity_seeds']), '--workers',
                str(s['workers']), '--cfg-options', *proxy_and_full],
            osp.join(wd, 'fidelity.log'))
        print(f'[demo] finished in {(time.time() - start) / 60:.1f} min')
        return
    search = osp.join(wd, 'search')
    v = s['verdict_seeds']
    run(f'4/5 proxy search ({s["trials"]} trials), re-ranking of the top '
        f'{s["top_k"]} on the full task, and the verdict: the best cell, '
        f'the median cell and the baselines over {v} seeds',
        'search', [search_config, '--work-dir', search, '--workers',
                   str(s['workers']), '--cfg-options',
                   f'num_trials={s["trials"]}', f'rerank.top_k={s["top_k"]}',
                   f'verdict.seeds={v}', *proxy_and_full],
        osp.join(wd, 'search.log'))

    from mmseg_dpc.analysis import write_report
    from mmseg_dpc.search.verdict import read_verdicts, verdict_lines
    print('[demo] 5/5 report', flush=True)
    report = write_report(search)
    verdicts = read_verdicts(search)
    result = dict(wall_time_s=time.time() - start, verdicts=verdicts,
                  report=report)
    with open(osp.join(wd, 'demo_result.json'), 'w') as f:
        json.dump(result, f, indent=1)
    print(f'[demo] finished in {result["wall_time_s"] / 60:.1f} min')
    print(f'[demo] the verdict on the full task (fine-tuned {fi} it. from '
          f'the step-2 backbone, seeds {verdicts["seeds"][0]}-'
          f'{verdicts["seeds"][-1]}; {verdicts["rule"]}):')
    for line in verdict_lines(verdicts):
        print(f'[demo]   {line}')
    print(f'[demo] report:      {report}')
    print(f'[demo] leaderboard: {osp.join(search, "leaderboard.csv")}')
    print(f'[demo] trials:      {osp.join(search, "trials")}')
    print(f'[demo] everything:  {wd}')


if __name__ == '__main__':
    main()
