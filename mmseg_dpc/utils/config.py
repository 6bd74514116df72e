"""Shared command-line plumbing of the tools (``tools/train.py``,
``tools/test.py``, the demo and the benchmarks)."""
from __future__ import annotations

import argparse
import os
import os.path as osp
from typing import Any, List, Optional, Sequence

from mmengine.config import Config, DictAction


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


def resolve_config_path(cfg: Config, key: str) -> str:
    """The absolute path of the config file that ``cfg[key]`` names
    (``key`` may be dotted, e.g. ``rerank.full_config``).

    A relative path is looked up as ``_base_`` is, next to the config file
    that holds it, and then in the current working directory (where
    mmseg's tools run, and where the shipped configs' ``configs/...``
    paths start). The error names the key and every place tried.
    """
    value: Any = cfg
    for part in key.split('.'):
        value = value.get(part) if hasattr(value, 'get') else None
    if not isinstance(value, str) or not value:
        raise ValueError(f'{key} must be a config file path, got {value!r}')
    path = osp.expanduser(value)
    if osp.isabs(path):
        tried = [path]
    else:
        filename = getattr(cfg, 'filename', None)
        dirs = [osp.dirname(osp.abspath(filename))] if filename else []
        tried = [osp.join(d, path) for d in dirs + [os.getcwd()]]
    for candidate in tried:
        if osp.isfile(candidate):
            return osp.abspath(candidate)
    where = f' (in {cfg.filename})' if getattr(cfg, 'filename', None) else ''
    raise ValueError(f'{key}{where}: config file {value!r} not found; '
                     f'tried {", ".join(tried)}')


def load_config_file(path: str) -> Config:
    """``Config.fromfile`` with a one-line error for a missing or broken
    file, for the command-line tools."""
    if not osp.isfile(path):
        raise SystemExit(f'error: config file not found: {path}')
    try:
        return Config.fromfile(path)
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
    from .checkpoint import CheckpointError, check_checkpoint
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
