"""One trial of a search: its standalone config, its run, its result.

A trial directory ``WORK_DIR/trials/<number>-<archhash>/`` holds
``config.py`` (a complete MM config that ``tools/train.py``, ours or
mmseg's, runs on its own), the run's logs and checkpoints, and
``result.json`` (metrics, cost, wall time, status, error).
"""
from __future__ import annotations

import glob
import json
import math
import os
import os.path as osp
import sys
from typing import Any, Dict, List, Optional, Tuple

from mmengine.config import Config

from ..proxy import expect_cache_source
from ..utils.config import resolve_config_path
from ..utils.io import atomic_write_json
from .architecture import Architecture

REPO_TOOLS = osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), 'tools')

COMPLETE, FAILED = 'COMPLETE', 'FAILED'


def trial_dir_name(number: int, arch: Architecture) -> str:
    return f'{number:04d}-{arch.hash}'


def _absolute_data_roots(cfg: Config, base: str) -> None:
    """Make data roots absolute, so the config runs from any directory."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader and 'data_root' in loader.get('dataset', {}):
            root = loader.dataset.data_root
            if not osp.isabs(root):
                loader.dataset.data_root = osp.abspath(osp.join(base, root))


def write_trial_config(base_config: str, arch: Architecture, out_dir: str,
                       cfg_options: Optional[dict] = None,
                       seed: int = 0,
                       backbone_from: Optional[str] = None) -> str:
    """``base_config`` with this trial's cell in its DPC head, dumped as one
    standalone file ``out_dir/config.py``; returns its path.
    ``backbone_from`` starts the model from that checkpoint's backbone and
    nothing else (``load_from`` would also copy the checkpoint's own cell
    into this cell's branches, wherever the shapes fit)."""
    cfg = Config.fromfile(base_config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    head = cfg.model.decode_head
    if head.get('type') != 'DPCHead':
        raise ValueError(f'{base_config}: model.decode_head is '
                         f'{head.get("type")}, not DPCHead')
    head_cfg = arch.head_config()
    head.arch = head_cfg['arch']
    for key in ('rates', 'grids'):
        if key in head_cfg:
            head[key] = head_cfg[key]
    if backbone_from:
        cfg.model.backbone.init_cfg = dict(
            type='Pretrained', checkpoint=osp.abspath(backbone_from),
            prefix='backbone.')
    cfg.work_dir = osp.abspath(out_dir)
    cfg.randomness = dict(seed=seed)
    cfg.arch_hash = arch.hash
    _absolute_data_roots(cfg, os.getcwd())
    if 'feature_source' in cfg:  # a proxy: it trains on the cache it expects
        cfg.feature_source = resolve_config_path(cfg, 'feature_source')
        expect_cache_source(cfg)
    # the bases' top-level `dpc_arch` is the released cell, not this one's
    cfg = Config({k: v for k, v in cfg.to_dict().items() if k != 'dpc_arch'},
                 filename=cfg.filename)
    os.makedirs(out_dir, exist_ok=True)
    path = osp.join(out_dir, 'config.py')
    cfg.dump(path)
    return path


def train_command(config: str, work_dir: str) -> List[str]:
    """The command a trial runs: ``tools/train.py`` in a fresh process."""
    return [sys.executable, osp.join(REPO_TOOLS, 'train.py'), config,
            '--work-dir', work_dir]


def read_metrics(work_dir: str) -> Dict[str, Any]:
    """Last validation metrics and a NaN check from mmengine's
    ``scalars.json`` logs of the latest run in ``work_dir``."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    if not logs:
        raise ValueError('the run logged no metrics')
    val: Dict[str, Any] = {}
    for path in logs:
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                loss = rec.get('loss')
                if loss is not None and not math.isfinite(loss):
                    raise ValueError(f'loss became {loss} at step '
                                     f'{rec.get("step")}')
                if 'mIoU' in rec:
                    val = rec
    if not val:
        raise ValueError('the run logged no validation mIoU')
    return {k: v for k, v in val.items() if k in ('mIoU', 'aAcc', 'mAcc',
                                                   'step')}


def read_timing(work_dir: str) -> Dict[str, float]:
    """``startup_s`` and ``train_s`` of a finished ``tools/train.py`` run."""
    path = osp.join(work_dir, 'timing.json')
    if not osp.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def tail(path: str, n: int = 15) -> str:
    if not osp.exists(path):
        return ''
    with open(path, errors='replace') as f:
        return ''.join(f.readlines()[-n:])


def write_result(out_dir: str, result: Dict[str, Any]) -> None:
    atomic_write_json(osp.join(out_dir, 'result.json'), result)


def run_outcome(run_dir: str, finished, timeout: Optional[float]
                ) -> Tuple[Dict[str, Any], Optional[str]]:
    """``(metrics, error)`` of a finished trial process: a timeout, a
    non-zero exit (with the end of its log), or the metrics it logged
    (a non-finite loss or no validation is an error too)."""
    if finished.timed_out:
        return {}, f'timeout after {timeout}s'
    if finished.returncode != 0:
        return {}, (f'exit code {finished.returncode}; end of train.log:\n'
                    f'{tail(osp.join(run_dir, "train.log"))}')
    try:
        return read_metrics(run_dir), None
    except ValueError as e:
        return {}, str(e)


def read_result(out_dir: str) -> Optional[Dict[str, Any]]:
    path = osp.join(out_dir, 'result.json')
    if not osp.exists(path):
        return None
    with open(path) as f:
        return json.load(f)
