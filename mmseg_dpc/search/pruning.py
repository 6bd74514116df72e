"""Multi-fidelity search: Optuna's pruners stop poor cells at rungs.

A trial validates on the cached validation split at each rung (training
iterations: ``min_resource * reduction_factor**k`` for successive halving
and Hyperband, every ``interval_steps`` for the median rule) and reports
the mIoU to the study itself, through the shared storage, as
``trial.report``; the pruner's answer (``trial.should_prune``) comes at
once, in the trial process, so a pruned trial stops at the rung it failed.
Deciding in the trial rather than in the driver keeps Optuna's own rung
bookkeeping (successive halving stores each rung's value on the trial) and
costs no wait for the driver's next poll; the driver still tells every
final state (COMPLETE, PRUNED, FAIL), so each trial keeps one owner.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Union

import optuna

from mmseg.registry import HOOKS

from ..engine import MetricsFileHook, add_metrics_hook
from .settings import PrunerSettings

# the environment variable that gives a trial process the study's storage
STORAGE_ENV = 'MMSEG_DPC_STORAGE'
# what a trial's config imports to find :class:`PruningMetricsFileHook`
HOOK_MODULE = __name__


# checked settings, or as a config holds them (a trial's: a dict)
Pruner = Union[PrunerSettings, Dict[str, Any], None]


def build_pruner(pruner: Pruner,
                 max_iters: int) -> optuna.pruners.BasePruner:
    """Optuna's pruner for ``pruner`` (``NopPruner`` for none).
    Hyperband's ``max_resource`` is the proxy's ``max_iters``: set, not
    inferred from the first trials, so every process builds the same
    brackets."""
    pruner = PrunerSettings.from_config(pruner)
    if pruner is None:
        return optuna.pruners.NopPruner()
    kw = pruner.options()
    if pruner.type == 'SuccessiveHalving':
        return optuna.pruners.SuccessiveHalvingPruner(**kw)
    if pruner.type == 'Hyperband':
        return optuna.pruners.HyperbandPruner(max_resource=max_iters, **kw)
    return optuna.pruners.MedianPruner(**kw)


def rung_steps(pruner: Pruner, max_iters: int) -> List[int]:
    """The iterations at which trials report (and may be stopped), before
    the last one."""
    pruner = PrunerSettings.from_config(pruner)
    if pruner is None:
        return []
    if pruner.type == 'Median':
        step = pruner.interval_steps
        return list(range(max(step, pruner.n_warmup_steps or 0),
                          max_iters, step))
    factor = pruner.reduction_factor or 3
    rungs = []
    r = pruner.min_resource * factor ** (pruner.min_early_stopping_rate or 0)
    while r < max_iters:
        rungs.append(r)
        r *= factor
    return rungs


class TrialReporter:
    """Runs in a trial process: reports its validation mIoU at a step to
    its trial in the study, and says whether the pruner stops it.

    Args:
        study_name: the search's study.
        trial_id: the trial's storage id.
        pruner: the search's pruner (as the trial's config holds it).
        max_iters: the proxy's training iterations.
        storage: the storage URL (default: ``$MMSEG_DPC_STORAGE``; without
            one, nothing is reported and nothing pruned).
    """

    def __init__(self, study_name: str, trial_id: int,
                 pruner: Pruner, max_iters: int,
                 storage: Optional[str] = None) -> None:
        url = storage or os.environ.get(STORAGE_ENV)
        self.trial = None
        if not url:
            return
        study = optuna.load_study(
            study_name=study_name, storage=url,
            sampler=optuna.samplers.RandomSampler(),
            pruner=build_pruner(pruner, max_iters))
        self.trial = optuna.trial.Trial(study, trial_id)

    def report(self, step: int, value: float, decide: bool) -> bool:
        """Record ``value`` at ``step``; with ``decide``, ``True`` where the
        trial is to stop now."""
        if self.trial is None:
            return False
        self.trial.report(value, step)
        return decide and self.trial.should_prune()


@HOOKS.register_module()
class PruningMetricsFileHook(MetricsFileHook):
    """:class:`~mmseg_dpc.engine.MetricsFileHook` of a trial in a search with
    a pruner: each validation's mIoU goes to the trial in the study, and
    at a rung the pruner may stop the run (``metrics.json`` then records
    where, as ``pruned``).

    Args:
        report: :class:`TrialReporter` arguments (study, trial, pruner).
        rungs: the pruner's rungs (:func:`rung_steps`).
    """

    def __init__(self, report: Dict[str, Any], rungs=()) -> None:
        super().__init__(rungs=rungs)
        self.report = report
        self._reporter: Optional[TrialReporter] = None

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._reporter = TrialReporter(**self.report)

    def stop_here(self, runner, step: int, miou: float,
                  at_rung: bool) -> bool:
        return self._reporter.report(step, miou, decide=at_rung)


def add_pruning_hook(cfg, report: Dict[str, Any]) -> None:
    """Make ``cfg``'s metrics hook a :class:`PruningMetricsFileHook` that
    reports to ``report``'s trial, and have the config import this module
    (so any train tool, mmseg's too, finds the hook)."""
    add_metrics_hook(cfg, type=PruningMetricsFileHook.__name__,
                     report=report)
    imports = dict(cfg.get('custom_imports') or {})
    names = list(imports.get('imports', []))
    if HOOK_MODULE not in names:
        names.append(HOOK_MODULE)
    cfg.custom_imports = dict(imports, imports=names,
                              allow_failed_imports=False)
