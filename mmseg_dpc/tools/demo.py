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
   verdict: the best re-ranked cell against mmseg's ASPP head, each
   trained on the full task with 2 more seeds, a third where undecided
   (the search config's ``verdict``);
5. write the report (plots, leaderboard, proxy vs full, the verdict).

With ``--fidelity`` (``make fidelity``), steps 4-5 give way to the proxy
fidelity study (``tools/analysis/proxy_fidelity.py``) on the same proxy and
full task: 16 uniform cells x 2 seeds. Steps 2 and 3 are skipped where
their results exist in the work dir.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, Iterator, List, Optional, TextIO

DPC = 'configs/dpc/dpc_mobilenet-v2-d8_1xb4-300_synthetic-shapes-192x192.py'
SEARCH = 'configs/search/dpc-search_random-16_synthetic-shapes-192x192.py'
IMAGE_SIZE = 192  # the configs' crop: 24x24 feature maps at output stride 8

# (full run, --quick): minutes `make demo` took on the development machine
# (2 CPU cores, otherwise idle), and the sizes of each step
EXPECTED_MINUTES = dict(demo=(10, 2), fidelity=(22, 2))
SETTINGS = dict(
    num_train=(256, 16), num_val=(64, 8), backbone_iters=(300, 10),
    trials=(16, 4), proxy_iters=(150, 10), top_k=(2, 2),
    finetune_iters=(150, 6), verdict_seeds=(2, 2), verdict_max_seeds=(3, 2),
    workers=(2, 2),
    fidelity_cells=(16, 3), fidelity_seeds=(2, 2))
WATCH_INTERVAL = 2.0  # seconds between looks at a step's progress


def settings(quick: bool) -> Dict[str, int]:
    """The sizes of a full run (``quick=False``) or of ``--quick``, the
    benchmarks' too, so they run the demo's own task."""
    return {k: v[1 if quick else 0] for k, v in SETTINGS.items()}


# a step's progress: called now and then while it runs, it returns the
# progress events (see mmseg_dpc.search.progress) since its last call
Watcher = Callable[[], List]


def search_events(work_dir: str) -> Watcher:
    """The events a search (or the fidelity tool) appends to its
    ``progress.jsonl`` from now on."""
    from mmseg_dpc.search.progress import PROGRESS_FILE, read_events
    path = osp.join(work_dir, PROGRESS_FILE)
    offset = osp.getsize(path) if osp.exists(path) else 0

    def watch() -> List:
        nonlocal offset
        events, offset = read_events(path, offset)
        return events
    return watch


def training_progress(work_dir: str, max_iters: int) -> Watcher:
    """The training's iteration and ETA, from the scalars mmengine logs
    (``WORK_DIR/TIMESTAMP/vis_data/scalars.json``: one JSON object a
    logging interval)."""
    from mmseg_dpc.search.progress import TrainProgress
    shown = [0]

    def watch() -> List:
        logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                         'scalars.json')))
        if not logs:
            return []
        with open(logs[-1]) as f:
            train = [e for line in f if line.strip()
                     for e in (json.loads(line), ) if 'iter' in e]
        if not train or train[-1]['iter'] == shown[0]:
            return []
        it = shown[0] = train[-1]['iter']
        per_iter = sum(e['time'] for e in train) / len(train)
        return [TrainProgress('backbone', it, max_iters,
                              per_iter * (max_iters - it))]
    return watch


def cache_progress(cache: str, splits=('train', 'val')) -> Watcher:
    """Images cached so far per split, from each split's manifest."""
    from mmseg_dpc.feature_cache import CacheError, read_manifest
    from mmseg_dpc.search.progress import CacheProgress
    shown: Dict[str, tuple] = {}

    def watch() -> List:
        cached = {}
        for split in splits:
            try:
                m = read_manifest(osp.join(cache, split))
            except CacheError:  # not begun, or being written
                continue
            cached[split] = (sum(s['count'] for s in m['shards']),
                             m['count'])
        if not cached or cached == shown:
            return []
        shown.clear()
        shown.update(cached)
        return [CacheProgress('cache', dict(cached))]
    return watch


def run(step: str, tool: str, args, log: str,
        watch: Optional[Watcher] = None) -> None:
    """Run ``tool`` (a module of :mod:`mmseg_dpc.tools`) in its own
    process (see :func:`run_command`)."""
    run_command(step, [sys.executable, '-m', f'mmseg_dpc.tools.{tool}',
                       *args], log, watch)


def run_command(step: str, command: List[str], log: str,
                watch: Optional[Watcher] = None) -> None:
    """Run ``command``, its output to ``log`` line by line, each line
    flushed as it comes (a reader of the log sees what the step has
    printed so far), and the progress ``watch`` sees (trials done, best so
    far, iterations, ETA) to the terminal; stop on failure."""
    start = time.time()
    print(f'[demo] {step} ...', flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    with open(log, 'w') as f:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        copier = threading.Thread(target=_copy_lines, args=(proc.stdout, f),
                                  daemon=True)
        copier.start()
        while True:
            ended = _wait(proc, WATCH_INTERVAL)
            for line in _formatted(watch() if watch else []):
                print(f'[demo]   {line}', flush=True)
            if ended:
                break
        copier.join()
    if proc.returncode != 0:
        with open(log) as f:
            tail = ''.join(f.readlines()[-20:])
        sys.exit(f'[demo] {step} failed (exit {proc.returncode}); end of '
                 f'{log}:\n{tail}')
    print(f'[demo] {step} done in {time.time() - start:.0f}s (log: {log})',
          flush=True)


def _copy_lines(stream, log: TextIO) -> None:
    """Each line of ``stream`` (a child's output) to ``log``, flushed."""
    for raw in iter(stream.readline, b''):
        log.write(raw.decode(errors='replace'))
        log.flush()
    stream.close()


def _wait(proc: subprocess.Popen, seconds: float) -> bool:
    try:
        proc.wait(seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def _formatted(events) -> Iterator[str]:
    from mmseg_dpc.search.progress import format_event
    for e in events:
        yield from format_event(e).splitlines()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--work-dir', default='work_dirs/demo')
    p.add_argument('--quick', action='store_true',
                   help='tiny sizes, for tests (about 2 minutes)')
    p.add_argument('--fidelity', action='store_true',
                   help='the proxy fidelity study instead of the search')
    a = p.parse_args()
    s = settings(a.quick)
    wd = osp.abspath(a.work_dir)
    os.makedirs(wd, exist_ok=True)
    start = time.time()
    job = 'fidelity' if a.fidelity else 'demo'
    n = 4 if a.fidelity else 5  # steps
    print(f'[demo] expected time: about '
          f'{EXPECTED_MINUTES[job][1 if a.quick else 0]} minutes on 2 CPU '
          f'cores ({os.cpu_count()} here)', flush=True)
    data = make_data(wd, s, n)
    ckpt = train_backbone(wd, s, data, n, keep=a.fidelity)
    search_config = cache(wd, data, ckpt, n, keep=a.fidelity)
    options = proxy_and_full_options(s, data, ckpt, wd)
    if a.fidelity:
        fidelity(wd, s, search_config, options)
        print(f'[demo] finished in {(time.time() - start) / 60:.1f} min')
        return
    search = osp.join(wd, 'search')
    run(f'4/5 proxy search ({s["trials"]} trials), re-ranking of the top '
        f'{s["top_k"]} on the full task, and the verdict: the best cell '
        f'against the ASPP head over {s["verdict_seeds"]}-'
        f'{s["verdict_max_seeds"]} seeds (raced)', 'search',
        [search_config, '--work-dir', search, '--workers', str(s['workers']),
         '--cfg-options', f'num_trials={s["trials"]}',
         f'rerank.top_k={s["top_k"]}', f'verdict.seeds={s["verdict_seeds"]}',
         f'verdict.max_seeds={s["verdict_max_seeds"]}',
         *options], osp.join(wd, 'search.log'), search_events(search))
    report(wd, search, s, start)


def make_data(wd: str, s: dict, n: int) -> str:
    """Step 1: the generated data set."""
    from mmseg_dpc.datasets import generate_synthetic_shapes
    data = osp.join(wd, 'data')
    try:
        generate_synthetic_shapes(data, s['num_train'], s['num_val'],
                                  IMAGE_SIZE)
    except ValueError as e:  # e.g. a work dir of an older demo
        sys.exit(f'[demo] error: {e}')
    print(f'[demo] 1/{n} data: {s["num_train"]} train / {s["num_val"]} val '
          f'images in {data}')
    return data


def train_backbone(wd: str, s: dict, data: str, n: int, keep: bool) -> str:
    """Step 2: the brief full training that makes the backbone (kept where
    ``keep`` and it exists); returns its checkpoint."""
    from mmseg_dpc.tools.cli import data_root_options, schedule_options
    from mmseg_dpc.utils.config import shipped_config
    backbone = osp.join(wd, 'backbone')
    it = s['backbone_iters']
    ckpt = osp.join(backbone, f'iter_{it}.pth')
    if not (keep and osp.exists(ckpt)):
        run(f'2/{n} brief full training (backbone + released DPC cell)',
            'train', [shipped_config(DPC), '--work-dir', backbone,
                      '--cfg-options', *schedule_options(it),
                      *data_root_options(data)],
            osp.join(wd, 'backbone.log'), training_progress(backbone, it))
    return ckpt


def cache(wd: str, data: str, ckpt: str, n: int, keep: bool) -> str:
    """Step 3: the backbone's features of train and val, the levels the
    search's proxy reads (kept where ``keep`` and they exist); returns the
    search config."""
    from mmengine.config import Config

    from mmseg_dpc.tools.cli import data_root_options
    from mmseg_dpc.utils.config import shipped_config
    out = osp.join(wd, 'feature_cache')
    search_config = shipped_config(SEARCH)
    levels = Config.fromfile(shipped_config(
        Config.fromfile(search_config).proxy_config)).feature_levels
    if not (keep and osp.exists(osp.join(out, 'val', 'manifest.json'))):
        run(f'3/{n} feature cache',
            'cache_features', [shipped_config(DPC), '--out', out,
                               '--levels', *map(str, levels),
                               '--checkpoint', ckpt, '--cfg-options',
                               *data_root_options(data)],
            osp.join(wd, 'cache.log'), cache_progress(out))
    return search_config


def proxy_and_full_options(s: dict, data: str, ckpt: str, wd: str
                           ) -> List[str]:
    """The search config's ``--cfg-options`` for the demo's proxy (on the
    cache) and full task: every compared head starts from the step-2
    backbone and nothing else, the whole model trained at the schedule's
    learning rate (the heads start from scratch: at 0.01, 150 iterations
    left them unconverged, seed std 5.2 mIoU against 0.8 at 0.05)."""
    from mmseg_dpc.tools.cli import data_root_options, schedule_options
    cache_dir = osp.join(wd, 'feature_cache')
    finetune = schedule_options(s['finetune_iters'])
    return [f'rerank.init_from={ckpt}',
            *schedule_options(s['proxy_iters'], 'proxy_cfg_options.'),
            f'proxy_cfg_options.feature_checkpoint={ckpt}',
            *data_root_options(cache_dir, 'proxy_cfg_options.'),
            *[f'rerank.cfg_options.{o}'
              for o in finetune + data_root_options(data)]]


def fidelity(wd: str, s: dict, search_config: str,
             options: List[str]) -> None:
    """Step 4 of ``--fidelity``: the proxy fidelity study."""
    out = osp.join(wd, 'fidelity')
    run(f'4/4 proxy fidelity: {s["fidelity_cells"]} cells x '
        f'{s["fidelity_seeds"]} seeds on the proxy and the full task',
        'analysis.proxy_fidelity', [
            search_config, '--work-dir', out,
            '--cells', str(s['fidelity_cells']),
            '--seeds', str(s['fidelity_seeds']), '--workers',
            str(s['workers']), '--cfg-options', *options],
        osp.join(wd, 'fidelity.log'), search_events(out))


def report(wd: str, search: str, s: dict, start: float) -> None:
    """Step 5: the report, and the verdict in words."""
    from mmseg_dpc.analysis import write_report
    from mmseg_dpc.search.verdict import read_verdicts, verdict_lines
    from mmseg_dpc.utils.third_party_log import third_party_log
    print('[demo] 5/5 report', flush=True)
    with third_party_log(osp.join(wd, 'report.log')) as log:
        path = write_report(search)
    if log.summary():
        print(f'[demo] {log.summary()}')
    verdicts = read_verdicts(search)
    result = dict(wall_time_s=time.time() - start, verdicts=verdicts,
                  report=path)
    with open(osp.join(wd, 'demo_result.json'), 'w') as f:
        json.dump(result, f, indent=1)
    print(f'[demo] finished in {result["wall_time_s"] / 60:.1f} min')
    print(f'[demo] the verdict on the full task (fine-tuned '
          f'{s["finetune_iters"]} it. from the step-2 backbone, seeds '
          f'{verdicts["seeds"][0]}-{verdicts["seeds"][-1]}; '
          f'{verdicts["rule"]}):')
    for line in verdict_lines(verdicts):
        print(f'[demo]   {line}')
    print(f'[demo] report:      {path}')
    print(f'[demo] leaderboard: {osp.join(search, "leaderboard.csv")}')
    print(f'[demo] trials:      {osp.join(search, "trials")}')
    print(f'[demo] everything:  {wd}')


if __name__ == '__main__':
    main()
