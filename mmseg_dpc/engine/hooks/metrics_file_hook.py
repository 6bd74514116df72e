"""Each validation's metrics in one explicit file, ``WORK_DIR/metrics.json``.

The search reads a trial's outcome from this file, never from mmengine's log
layout (``*/vis_data/scalars.json``), which is a logging detail. The hook
validates at extra steps (``rungs``) on request, and a subclass may stop
the run after a validation (:meth:`MetricsFileHook.stop_here`): the
search's pruning hook does (:mod:`mmseg_dpc.search.pruning`), so this layer
knows nothing of studies.
"""
from __future__ import annotations

import math
import os.path as osp
import time
from typing import Any, Dict, Optional, Sequence

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ...utils.io import atomic_write_json, read_json

METRICS_FILE = 'metrics.json'
METRIC_KEYS = ('mIoU', 'aAcc', 'mAcc')


@HOOKS.register_module()
class MetricsFileHook(Hook):
    """Writes ``metrics.json``: ``val``, one entry per validation
    (``step``, ``mIoU``/``aAcc``/``mAcc``, ``time`` since training began
    and ``val_s`` the validation took), ``train``, the mean training loss
    of each logging interval (``step``, ``loss``: the learning curve of a
    run validated once), ``nonfinite_loss``, the first step
    whose training loss was NaN or infinite, and ``pruned``, the step and
    value at which :meth:`stop_here` stopped the run (both ``None`` if
    not).

    Args:
        rungs: iterations at which to validate too (besides
            ``val_interval``); :meth:`stop_here` decides there.
        loss_interval: iterations per ``train`` entry (``None``: the
            logger hook's ``interval`` (else 10), at most a tenth of the
            run, so a short run has a curve too).
    """

    priority = 'VERY_LOW'

    def __init__(self, rungs: Sequence[int] = (),
                 loss_interval: Optional[int] = None) -> None:
        self.val = []
        self.train = []
        self.loss_interval = loss_interval
        self._losses = []
        self.nonfinite_loss: Optional[Dict[str, Any]] = None
        self.pruned: Optional[Dict[str, Any]] = None
        self.rungs = set(rungs)
        self._rung_step: Optional[int] = None
        self._started = self._val_started = 0.0

    def before_train(self, runner) -> None:
        self._started = time.time()
        if self.loss_interval is None:
            logger = next((h for h in runner.hooks
                           if type(h).__name__ == 'LoggerHook'), None)
            self.loss_interval = max(1, min(
                getattr(logger, 'interval', None) or 10,
                runner.train_loop.max_iters // 10))

    def after_train(self, runner) -> None:
        self._write(runner)

    def stop_here(self, runner, step: int, miou: float,
                  at_rung: bool) -> bool:
        """Whether the run stops after the validation of ``step`` (mIoU
        ``miou``; ``at_rung``: one of ``rungs``). Never, here."""
        return False

    def before_val_epoch(self, runner) -> None:
        self._val_started = time.time()

    def _check_loss(self, runner, outputs) -> None:
        loss = (outputs or {}).get('loss')
        if loss is None or self.nonfinite_loss is not None:
            return
        loss = float(loss)
        self._losses.append(loss)
        step = runner.iter + 1
        if step % self.loss_interval == 0 or \
                step == runner.train_loop.max_iters:
            mean = sum(self._losses) / len(self._losses)
            if math.isfinite(mean):
                self.train.append(dict(step=step, loss=round(mean, 6)))
            self._losses = []
        if not math.isfinite(loss):
            self.nonfinite_loss = dict(step=runner.iter + 1, loss=str(loss))
            self._write(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self._check_loss(runner, outputs)
        step, loop = runner.iter + 1, runner.train_loop
        if step in self.rungs and not (step % loop.val_interval == 0
                                       or step == loop.max_iters):
            self._rung_step = step  # the loop validates there anyway
            runner.val_loop.run()
            self._rung_step = None

    def after_val_epoch(self, runner, metrics=None) -> None:
        step = self._rung_step or runner.iter
        entry = dict(step=step)
        entry.update({k: float(v) for k, v in (metrics or {}).items()
                      if k in METRIC_KEYS})
        entry.update(time=round(time.time() - self._started, 3),
                     val_s=round(time.time() - self._val_started, 3))
        self.val.append(entry)
        if 'mIoU' in entry and self.stop_here(runner, step, entry['mIoU'],
                                              step in self.rungs):
            self.pruned = dict(step=step, mIoU=entry['mIoU'])
            runner.train_loop.stop_training = True
        self._write(runner)

    def _write(self, runner) -> None:
        if is_main_process():
            atomic_write_json(
                osp.join(runner.work_dir, METRICS_FILE),
                dict(val=self.val, train=self.train,
                     nonfinite_loss=self.nonfinite_loss, pruned=self.pruned))


def _is_metrics_hook(hook: Dict[str, Any]) -> bool:
    kind = hook.get('type')
    cls = HOOKS.get(kind) if isinstance(kind, str) else kind
    return isinstance(cls, type) and issubclass(cls, MetricsFileHook)


def add_metrics_hook(cfg, **kwargs) -> None:
    """Add :class:`MetricsFileHook` (with ``kwargs``; ``type`` names a
    subclass) to ``cfg.custom_hooks``, or set ``kwargs`` on the one (or
    subclass) there."""
    hooks = list(cfg.get('custom_hooks') or [])
    hook = next((h for h in hooks if _is_metrics_hook(h)), None)
    if hook is None:
        hooks.append(dict(dict(type='MetricsFileHook'), **kwargs))
    else:
        hook.update(kwargs)
    cfg.custom_hooks = hooks


def read_metrics_file(work_dir: str) -> Optional[Dict[str, Any]]:
    """``work_dir/metrics.json`` as written, or ``None``."""
    return read_json(osp.join(work_dir, METRICS_FILE))


def read_metrics(work_dir: str) -> Dict[str, Any]:
    """The last validation's metrics (with its ``step``) from
    ``work_dir/metrics.json``; a ``ValueError`` saying why where the run
    has none or its loss became non-finite."""
    record = read_metrics_file(work_dir)
    if record is None:
        raise ValueError(f'the run wrote no {METRICS_FILE} (no validation '
                         'ran)')
    bad = record.get('nonfinite_loss')
    if bad:
        raise ValueError(f'loss became {bad["loss"]} at step {bad["step"]}')
    val = [v for v in record.get('val', []) if 'mIoU' in v]
    if not val:
        raise ValueError('the run logged no validation mIoU')
    return {k: v for k, v in val[-1].items() if k in METRIC_KEYS + ('step', )}
