"""Test (and evaluate) a segmentor, as mmseg's ``tools/test.py``.

    python tools/test.py CONFIG CHECKPOINT [--work-dir D] [--out DIR] [--tta]
        [--show-dir DIR] [--cfg-options k=v ...] [--launcher ...]
"""
import argparse

from mmengine.runner import Runner

import mmseg_dpc
from mmseg_dpc.tools.cli import (add_common_args, check_run_inputs,
                                 load_config)

mmseg_dpc.register_all_modules()  # DPCHead & co. in mmseg's registries


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='MMSeg-DPC test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='directory to save the predictions for offline '
        'evaluation')
    parser.add_argument(
        '--show-dir', help='directory to save painted predictions, under '
        'work_dir/timestamp/')
    parser.add_argument(
        '--tta', action='store_true',
        help='test-time augmentation (the config\'s tta_pipeline: '
        'multi-scale and flipped inputs averaged, as the paper)')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args)
    check_run_inputs(cfg, args.checkpoint, ('test_dataloader', ))
    cfg.load_from = args.checkpoint
    if args.show_dir:
        cfg.default_hooks.visualization.draw = True
        cfg.visualizer.save_dir = args.show_dir
    if args.tta:
        if 'tta_pipeline' not in cfg:
            raise SystemExit(f'error: --tta: {args.config} defines no '
                             'tta_pipeline')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    Runner.from_cfg(cfg).test()


if __name__ == '__main__':
    main()
