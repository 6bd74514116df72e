"""The whole paper pipeline on the embedded generated data set.

    python tools/demo.py [--work-dir work_dirs/demo] [--quick] [--fidelity]

1. write the generated data set (objects at several scales; a disc's class
   depends on its context);
2. train the demo model briefly (MobileNetV2 x0.5 + the released DPC cell):
   no pretrained weights can be downloaded, so this makes the backbone;
3. cache that backbone's features of train and val;
4. search the DPC space on the proxy task (cells trained alone on the
   cached features), then re-rank the best cells on the full task (each
   model starts from the step-2 backbone, its head from scratch);
5. train mmseg's ASPP head the same way, as the baseline;
6. write the report (plots, leaderboard, proxy vs full correlation).

With ``--fidelity`` (``make fidelity``), steps 4-6 give way to the proxy
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
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DPC = 'configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py'
ASPP = ('configs/deeplabv3plus/'
        'deeplabv3plus_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py')
SEARCH = 'configs/search/dpc-search_random-30_synthetic-shapes-128x128.py'

# (full run, --quick): minutes `make demo` took on the development machine
# (2 CPU cores, otherwise idle), and the sizes of each step
EXPECTED_MINUTES = dict(demo=(6.2, 0.6), fidelity=(20, 1.5))
SETTINGS = dict(
    num_train=(256, 16), num_val=(64, 8), backbone_iters=(300, 10),
    trials=(24, 4), proxy_iters=(300, 10), top_k=(3, 2),
    finetune_iters=(150, 6), workers=(2, 2), fidelity_cells=(16, 3),
    fidelity_seeds=(2, 2))


# lines of a step's output shown on the terminal too (the rest: its log)
PROGRESS = ('[search] ', '[rerank] ')


def run(step: str, args, log: str) -> None:
    """Run a tool of this repo, its output to ``log`` and its progress
    lines (trials done, best so far, ETA) to the terminal; stop on
    failure."""
    start = time.time()
    print(f'[demo] {step} ...', flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    with open(log, 'w') as f:
        proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            f.write(line)
            if line.startswith('[fidelity] ') or (
                    line.startswith(PROGRESS) and (
                        ' done, ' in line or 'Spearman' in line
                        or line.startswith('[rerank] top'))):
                print(f'[demo]   {line.rstrip()}', flush=True)
        proc.wait()
    if proc.returncode != 0:
        with open(log) as f:
            tail = ''.join(f.readlines()[-20:])
        sys.exit(f'[demo] {step} failed (exit {proc.returncode}); end of '
                 f'{log}:\n{tail}')
    print(f'[demo] {step} done in {time.time() - start:.0f}s (log: {log})',
          flush=True)


def last_miou(work_dir: str) -> float:
    from mmseg_dpc.engine import read_metrics
    return read_metrics(work_dir)['mIoU']


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
    print(f'[demo] expected time: about '
          f'{EXPECTED_MINUTES[job][1 if a.quick else 0]} minutes on 2 CPU '
          f'cores ({os.cpu_count()} here)', flush=True)

    from mmseg_dpc.datasets import generate_synthetic_shapes
    from mmseg_dpc.utils.config import data_root_options, schedule_options
    data = osp.join(wd, 'data')
    generate_synthetic_shapes(data, s['num_train'], s['num_val'])
    print(f'[demo] 1/6 data: {s["num_train"]} train / {s["num_val"]} val '
          f'images in {data}')

    backbone = osp.join(wd, 'backbone')
    it = s['backbone_iters']
    ckpt = osp.join(backbone, f'iter_{it}.pth')
    if not (a.fidelity and osp.exists(ckpt)):
        run('2/6 brief full training (backbone + released DPC cell)',
            ['tools/train.py', DPC, '--work-dir', backbone, '--cfg-options',
             *schedule_options(it), *data_root_options(data)],
            osp.join(wd, 'backbone.log'))

    cache = osp.join(wd, 'feature_cache')
    from mmengine.config import Config
    search_cfg = Config.fromfile(osp.join(REPO, SEARCH))
    levels = Config.fromfile(osp.join(REPO, search_cfg.proxy_config)
                             ).feature_levels  # what the proxy reads
    if not (a.fidelity and osp.exists(osp.join(cache, 'val',
                                                'manifest.json'))):
        run('3/6 feature cache',
            ['tools/cache_features.py', DPC, '--out', cache, '--levels',
             *map(str, levels),
             '--checkpoint', ckpt, '--cfg-options',
             *data_root_options(data)],
            osp.join(wd, 'cache.log'))

    fi, pi = s['finetune_iters'], s['proxy_iters']
    # every compared head starts from the step-1 backbone and nothing else
    finetune = [*schedule_options(fi), 'optim_wrapper.optimizer.lr=0.01']
    backbone_only = ['model.backbone.init_cfg.type=Pretrained',
                     f'model.backbone.init_cfg.checkpoint={ckpt}',
                     'model.backbone.init_cfg.prefix=backbone.']
    proxy_and_full = [
        f'rerank.init_from={ckpt}',
        *schedule_options(pi, 'proxy_cfg_options.'),
        f'proxy_cfg_options.feature_checkpoint={ckpt}',
        *data_root_options(cache, 'proxy_cfg_options.'),
        *[f'rerank.cfg_options.{o}'
          for o in finetune + data_root_options(data)]]
    if a.fidelity:
        run(f'proxy fidelity: {s["fidelity_cells"]} cells x '
            f'{s["fidelity_seeds"]} seeds on the proxy and the full task',
            ['tools/analysis/proxy_fidelity.py', SEARCH, '--work-dir',
             osp.join(wd, 'fidelity'), '--cells', str(s['fidelity_cells']),
             '--seeds', str(s['fidelity_seeds']), '--workers',
             str(s['workers']), '--cfg-options', *proxy_and_full],
            osp.join(wd, 'fidelity.log'))
        print(f'[demo] finished in {(time.time() - start) / 60:.1f} min')
        return
    search = osp.join(wd, 'search')
    run(f'4/6 proxy search ({s["trials"]} trials) and re-ranking of the '
        f'top {s["top_k"]} on the full task',
        ['tools/search.py', SEARCH, '--work-dir', search, '--workers',
         str(s['workers']), '--cfg-options', f'num_trials={s["trials"]}',
         f'rerank.top_k={s["top_k"]}', *proxy_and_full],
        osp.join(wd, 'search.log'))

    aspp = osp.join(wd, 'aspp_baseline')
    run('5/6 ASPP baseline (mmseg DepthwiseSeparableASPPHead, same training)',
        ['tools/train.py', ASPP, '--work-dir', aspp, '--cfg-options',
         *finetune, *backbone_only, *data_root_options(data)],
        osp.join(wd, 'aspp.log'))

    from mmseg_dpc.search.rerank import read_rerank
    rerank = read_rerank(search)
    ok = [r for r in rerank['trials'] if r['full_mIoU'] is not None]
    best = max(ok, key=lambda r: r['full_mIoU'])
    released = last_miou(backbone)
    aspp_miou = last_miou(aspp)
    comparison = {
        f'best searched cell {best["arch_hash"]} (full task, fine-tuned '
        f'{fi} it.)': f'{best["full_mIoU"]:.2f} mIoU',
        f'mmseg ASPP head (same backbone checkpoint, same {fi} it.)':
        f'{aspp_miou:.2f} mIoU',
        f'released top-1 cell (the {it}-iteration backbone run)':
        f'{released:.2f} mIoU',
    }
    from mmseg_dpc.analysis import write_report
    print('[demo] 6/6 report', flush=True)
    report = write_report(search, extra=comparison)
    result = dict(wall_time_s=time.time() - start, best_cell=best,
                  aspp_miou=aspp_miou, released_cell_miou=released,
                  rerank_spearman=rerank.get('spearman'),
                  rerank_kendall=rerank.get('kendall'), report=report)
    with open(osp.join(wd, 'demo_result.json'), 'w') as f:
        json.dump(result, f, indent=1)
    print(f'[demo] finished in {result["wall_time_s"] / 60:.1f} min')
    for k, v in comparison.items():
        print(f'[demo]   {k}: {v}')
    print(f'[demo] report:      {report}')
    print(f'[demo] leaderboard: {osp.join(search, "leaderboard.csv")}')
    print(f'[demo] trials:      {osp.join(search, "trials")}')
    print(f'[demo] everything:  {wd}')


if __name__ == '__main__':
    main()
