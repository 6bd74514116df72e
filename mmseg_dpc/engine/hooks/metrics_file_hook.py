"""Each validation's metrics in one explicit file, ``WORK_DIR/metrics.json``.

The search reads a trial's outcome from this file, never from mmengine's log
layout (``*/vis_data/scalars.json``), which is a logging detail.
"""
from __future__ import annotations

import json
import math
import os.path as osp
from typing import Any, Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...utils.io import atomic_write_json

METRICS_FILE = 'metrics.json'
METRIC_KEYS = ('mIoU', 'aAcc', 'mAcc')


@HOOKS.register_module()
class MetricsFileHook(Hook):
    """Writes ``metrics.json``: ``val``, one entry per validation
    (``step`` and ``mIoU``/``aAcc``/``mAcc``), and ``nonfinite_loss``, the
    first step whose training loss was NaN or infinite (``None`` if none)."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.val = []
        self.nonfinite_loss: Optional[Dict[str, Any]] = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        loss = (outputs or {}).get('loss')
        if loss is None or self.nonfinite_loss is not None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            self.nonfinite_loss = dict(step=runner.iter + 1, loss=str(loss))
            self._write(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        entry = dict(step=runner.iter)
        entry.update({k: float(v) for k, v in (metrics or {}).items()
                      if k in METRIC_KEYS})
        self.val.append(entry)
        self._write(runner)

    def _write(self, runner) -> None:
        if is_main_process():
            atomic_write_json(
                osp.join(runner.work_dir, METRICS_FILE),
                dict(val=self.val, nonfinite_loss=self.nonfinite_loss))


def add_metrics_hook(cfg) -> None:
    """Add :class:`MetricsFileHook` to ``cfg.custom_hooks`` unless it is
    there."""
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(h.get('type') in ('MetricsFileHook', MetricsFileHook)
               for h in hooks):
        hooks.append(dict(type='MetricsFileHook'))
    cfg.custom_hooks = hooks


def read_metrics(work_dir: str) -> Dict[str, Any]:
    """The last validation's metrics (with its ``step``) from
    ``work_dir/metrics.json``; a ``ValueError`` saying why where the run
    has none or its loss became non-finite."""
    path = osp.join(work_dir, METRICS_FILE)
    if not osp.exists(path):
        raise ValueError(f'the run wrote no {METRICS_FILE} (no validation '
                         'ran)')
    with open(path) as f:
        record = json.load(f)
    bad = record.get('nonfinite_loss')
    if bad:
        raise ValueError(f'loss became {bad["loss"]} at step {bad["step"]}')
    val = [v for v in record.get('val', []) if 'mIoU' in v]
    if not val:
        raise ValueError('the run logged no validation mIoU')
    return val[-1]
