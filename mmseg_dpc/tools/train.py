"""Train a segmentor (DPC or any mmseg model), as mmseg's ``tools/train.py``.

    python tools/train.py CONFIG [--work-dir D] [--resume] [--amp]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import time

_PROCESS_START = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os.path as osp  # noqa: E402

from mmengine.dist import is_main_process  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmseg.registry import RUNNERS  # noqa: E402

import mmseg_dpc  # noqa: E402
from mmseg_dpc.engine import add_metrics_hook  # noqa: E402
from mmseg_dpc.tools.cli import (add_common_args,  # noqa: E402
                                 check_run_inputs, load_config)

mmseg_dpc.register_all_modules()  # DPCHead & co. in mmseg's registries


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume', action='store_true',
        help='resume from the latest checkpoint in the work dir')
    parser.add_argument(
        '--amp', action='store_true',
        help='enable automatic mixed-precision training')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args)
    if args.amp:
        if cfg.optim_wrapper.type == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.',
                      logger='current', level=logging.WARNING)
        elif cfg.optim_wrapper.type != 'OptimWrapper':
            raise SystemExit('error: --amp needs optim_wrapper.type '
                             f'OptimWrapper, got {cfg.optim_wrapper.type}')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    cfg.resume = args.resume
    add_metrics_hook(cfg)  # WORK_DIR/metrics.json: what the search reads
    check_run_inputs(cfg, cfg.get('load_from'),
                     ('train_dataloader', 'val_dataloader'))
    runner = (Runner.from_cfg(cfg)
              if 'runner_type' not in cfg else RUNNERS.build(cfg))
    start = time.time()
    runner.train()
    if is_main_process():  # start-up vs training: each trial's record
        # (startup_s, train_s) and tools/benchmarks/search_overhead.py
        with open(osp.join(cfg.work_dir, 'timing.json'), 'w') as f:
            json.dump(dict(startup_s=start - _PROCESS_START,
                           train_s=time.time() - start), f)


if __name__ == '__main__':
    main()
