"""Command-line plumbing shared by the tools (train, test, search, the
demo and the benchmarks): flags spelled as mmseg's tools spell them, config
loading with one-line errors, and the ``--cfg-options`` the demo and the
benchmarks build. Library code never raises ``SystemExit``; this module
does, for the commands."""
from __future__ import annotations

import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.config import Config, DictAction

from ..utils.config import find_config, in_mmseg_scope


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Flags both tools take, spelled as mmseg's tools spell them."""
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs (mmseg '
        'syntax, e.g. model.decode_head.num_classes=7)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (>= 2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def add_trial_run_args(parser: argparse.ArgumentParser) -> None:
    """Flags of the tools that train runs of a search config through its
    launcher (the fidelity and noise tools): where they run, and the
    config's overrides."""
    parser.add_argument('--workers', type=int, default=None)
    parser.add_argument('--launcher', choices=['local', 'ray'],
                        default='local')
    parser.add_argument('--ray-address')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)


def schedule_options(iters: int, prefix: str = '') -> List[str]:
    """``--cfg-options`` that make a config (or its sub-config at
    ``prefix``, e.g. ``'proxy_cfg_options.'``) train ``iters`` iterations,
    validating and checkpointing at the end."""
    return [f'{prefix}{key}={iters}' for key in (
        'train_cfg.max_iters', 'train_cfg.val_interval',
        'param_scheduler.0.end', 'default_hooks.checkpoint.interval')]


def data_root_options(root: str, prefix: str = '') -> List[str]:
    """``--cfg-options`` that point a config's (or sub-config's) train,
    val and test data sets at ``root``."""
    return [f'{prefix}{key}.dataset.data_root={root}' for key in (
        'train_dataloader', 'val_dataloader', 'test_dataloader')]


def load_config(path: str, args: argparse.Namespace) -> Config:
    """Load ``path``, apply ``--cfg-options``, launcher and work dir."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = load_config_file(path)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    work_dir: Optional[str] = args.work_dir
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    return cfg


def load_config_file(path: str) -> Config:
    """``Config.fromfile`` with a one-line error for a missing or broken
    file, for the command-line tools. ``path`` may name a shipped config
    (``configs/...`` from any directory, or ``mmseg_dpc::...``: see
    :func:`~mmseg_dpc.utils.config.find_config`)."""
    found = find_config(path)
    if found is None:
        raise SystemExit(f'error: config file not found: {path}')
    path = found
    try:
        return in_mmseg_scope(Config.fromfile(path))
    except Exception as e:
        raise SystemExit(f'error: cannot load config {path}: '
                         f'{type(e).__name__}: {e}') from e


def check_run_inputs(cfg: Config, checkpoint: Optional[str],
                     loaders: Sequence[str]) -> None:
    """Refuse, in one line, what would fail deep inside the Runner: a file
    that is not a (safe) checkpoint, and for a proxy config a feature
    cache in ``loaders`` that is unusable or made from another backbone,
    config or checkpoint (the data sets are then told what to expect)."""
    from ..feature_cache import check_proxy_cache, expect_cache_source
    from ..utils.checkpoint import CheckpointError, check_checkpoint
    if checkpoint:
        try:
            check_checkpoint(checkpoint)
        except CheckpointError as e:
            raise SystemExit(f'error: {e}') from None
    if cfg.model.get('type') != 'CachedFeatureSegmentor':
        return
    try:
        expect_cache_source(cfg)
        check_proxy_cache(cfg, loaders)
    except ValueError as e:
        raise SystemExit(f'error: {e}') from None
