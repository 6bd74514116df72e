"""The verdict: is the searched cell better than the baselines, over
training seeds?

After re-ranking, the best re-ranked cell, the cell with the median proxy
mIoU of the search (under random search, the median of a uniform sample)
and each baseline config (trained as it is: mmseg's ASPP head, the
released cell) are trained ``verdict.seeds`` times on the full task, as
re-ranking trains them (``rerank.cfg_options``; ``init_from``: the same
backbone and nothing else). The seeds follow the search's own: the one the
best cell was selected with does not count, so its luck is not scored.

Each model gets the mean and standard deviation of its mIoU over seeds and
its head's params and FLOPs (mmengine's count, the same for every kind of
head). The searched cell is *better* than another model when its mean is
higher by more than twice their pooled seed standard deviation, *worse*
when lower by as much, and otherwise *indistinguishable*.
"""
from __future__ import annotations

import math
import os.path as osp
import re
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config
from scipy.stats import ttest_ind

from ..utils.io import atomic_write_json, read_json
from .architecture import Architecture
from .cost import counted_cost
from .full_task import crop_size, full_task_config, full_task_runner
from .progress import Message, ProgressLog, RunTrained, TrainingPlanned
from .record import TrialRecord
from .rerank import RerankResult
from .runner import TrialRun
from .settings import RerankSettings, VerdictSettings

VERDICT_FILE = 'verdicts.json'
RULE = ('better / worse: the mean mIoU differs by more than twice the '
        'pooled seed standard deviation; otherwise indistinguishable')


def compare(a: Sequence[float], b: Sequence[float]) -> Dict[str, Any]:
    """Model ``a`` against model ``b`` (mIoU per seed, two or more each):
    the difference of means, the threshold (twice the pooled seed standard
    deviation), the verdict on ``a`` and Welch's t-test p-value (``None``
    where both are constant)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f'compare: two or more seeds each, got {len(a)} '
                         f'and {len(b)}')
    diff = float(a.mean() - b.mean())
    threshold = float(2 * math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2))
    verdict = ('better' if diff > threshold else
               'worse' if diff < -threshold else 'indistinguishable')
    with warnings.catch_warnings():  # constant samples: p is NaN
        warnings.simplefilter('ignore', RuntimeWarning)
        p = float(ttest_ind(a, b, equal_var=False).pvalue)
    return dict(difference=diff, threshold=threshold, verdict=verdict,
                welch_p=p if math.isfinite(p) else None)


def read_verdicts(work_dir: str) -> Optional[Dict[str, Any]]:
    """A search's ``verdicts.json`` (``None`` before the verdict)."""
    return read_json(osp.join(work_dir, VERDICT_FILE))


@dataclass
class Model:
    """One model of the comparison: a cell in the full config, or a
    baseline config as it is."""
    name: str
    role: str  # 'searched', 'median' or 'baseline'
    arch: Optional[Architecture]
    base: Config

    @property
    def slug(self) -> str:
        return re.sub(r'[^A-Za-z0-9_-]+', '-', self.name).strip('-')


class Verdicts:
    """Trains the comparison's models over seeds on the full task
    (:mod:`.full_task`) through a :class:`~.runner.TrialRunner` of its own
    and writes ``verdicts.json``; runs whose record is COMPLETE are kept on
    resume.

    Args:
        verdict: the checked ``verdict`` settings.
        rerank: the checked ``rerank`` settings (how models train).
        launcher: where the models train.
        work_dir: the search's work dir.
        log: where progress goes.
        seed: the search's training seed (the verdict's follow it).
        threads_per_trial: see :class:`~.runner.TrialRunner`.
    """

    def __init__(self, verdict: VerdictSettings, rerank: RerankSettings,
                 launcher, work_dir: str, log: ProgressLog, seed: int = 0,
                 threads_per_trial: Optional[int] = None) -> None:
        self.runner = full_task_runner(rerank, launcher,
                                       threads_per_trial=threads_per_trial)
        self.full = self.runner.base
        self.baselines = {name: full_task_config(rerank, path)
                          for name, path in verdict.baselines.items()}
        self.initialised = rerank.initialised
        self.seeds = list(range(seed + 1, seed + 1 + verdict.seeds))
        self.median_cell = verdict.median_cell
        self.work_dir = work_dir
        self.log = log
        self.dir = osp.join(work_dir, 'verdict')

    def models(self, rerank: RerankResult,
               ranked: List[TrialRecord]) -> List[Model]:
        """The re-ranking's best cell, the median proxy cell, the
        baselines."""
        done = rerank.completed
        if not done:
            raise ValueError('verdict: no re-ranked cell completed on the '
                             'full task, so there is no searched cell to '
                             'compare')
        best = max(done, key=lambda r: r.full_mIoU)
        cells = {r.trial: r.arch for r in ranked}
        out = [Model(f'searched cell {best.arch_hash}', 'searched',
                     cells[best.trial], self.full)]
        if self.median_cell and ranked:
            median = ranked[len(ranked) // 2]
            out.append(Model(f'median searched cell {median.arch_hash}',
                             'median', median.arch, self.full))
        for name, base in self.baselines.items():
            head = base.model.decode_head
            arch = (Architecture(head.arch)
                    if head.get('type') == 'DPCHead' else None)
            out.append(Model(name, 'baseline', arch, base))
        return out

    def run(self, rerank: RerankResult, ranked: List[TrialRecord],
            poll_interval: float = 0.5) -> Dict[str, Any]:
        """Train what is missing, then write and return
        ``verdicts.json``. ``ranked``: the complete proxy trials, best
        first."""
        models = self.models(rerank, ranked)
        runs = [TrialRun((m.name, seed), i, m.arch,
                         osp.join(self.dir, f'{m.slug}-s{seed}'), {},
                         seed=seed, base=m.base)
                for i, m in enumerate(models) for seed in self.seeds]

        def before(kept: int, to_train: int) -> None:
            self.log.emit(TrainingPlanned(
                'verdict', f'{len(models)} models x {len(self.seeds)} seeds '
                f'(seeds {self.seeds[0]}-{self.seeds[-1]}) on the full task',
                kept, to_train))

        def after(run, record, done, total, eta) -> None:
            self.log.emit(RunTrained(
                'verdict', f'{run.key[0]}, seed {run.seed}', record.status,
                record.metrics.get('mIoU'), done, total, eta))

        results = self.runner.train(runs, poll_interval, before, after)
        report = self._summary(models, results)
        atomic_write_json(osp.join(self.work_dir, VERDICT_FILE), report)
        for line in verdict_lines(report):
            self.log.emit(Message('verdict', line))
        return report

    def _summary(self, models: List[Model],
                 results: Dict[Any, TrialRecord]) -> Dict[str, Any]:
        rows = []
        for m in models:
            records = [results.get((m.name, s)) for s in self.seeds]
            ok = [r for r in records if r is not None and r.complete]
            miou = [r.metrics['mIoU'] for r in ok]
            cost = self._head_cost(records)
            rows.append(dict(
                name=m.name, role=m.role,
                arch_hash=m.arch.hash if m.arch else None,
                arch=m.arch.to_list() if m.arch else None,
                head_type=cost.get('head_type'),
                seeds=[s for s, r in zip(self.seeds, records)
                       if r is not None and r.complete],
                mIoU=miou,
                mean=float(np.mean(miou)) if miou else None,
                std=float(np.std(miou, ddof=1)) if len(miou) > 1 else None,
                head_params=cost.get('params'),
                head_flops=cost.get('flops'),
                failed=[dict(seed=s, error=r.error)
                        for s, r in zip(self.seeds, records)
                        if r is not None and not r.complete],
                runs=[r.run_dir for r in records if r is not None]))
        searched = rows[0]
        comparisons = []
        for other in rows[1:]:
            c = dict(against=other['name'], verdict=None)
            if len(searched['mIoU']) > 1 and len(other['mIoU']) > 1:
                c.update(compare(searched['mIoU'], other['mIoU']))
            if searched['head_flops'] and other['head_flops']:
                c['flops_ratio'] = searched['head_flops'] / \
                    other['head_flops']
            comparisons.append(c)
        return dict(seeds=self.seeds, rule=RULE,
                    initialised=self.initialised, models=rows,
                    comparisons=comparisons)

    @staticmethod
    def _head_cost(records: List[Optional[TrialRecord]]) -> Dict[str, Any]:
        """The decode head's params and FLOPs as mmengine counts them, on
        the model's crop (from the first run's config)."""
        run = next((r for r in records if r is not None), None)
        if run is None:
            return {}
        cfg = Config.fromfile(run.config)
        size = crop_size(cfg)
        if not size:
            return {}
        counted = counted_cost(cfg, size)
        return dict(head_type=counted['head_type'],
                    **{k: counted['decode_head'][k]
                       for k in ('params', 'flops')})


def verdict_lines(report: Dict[str, Any]) -> List[str]:
    """The verdict in words: each model's mean +- std and head cost, then
    the searched cell against each other model."""
    def miou(m):
        if m['mean'] is None:
            return 'no run completed'
        std = f' +- {m["std"]:.2f}' if m['std'] is not None else ''
        return f'{m["mean"]:.2f}{std} mIoU ({len(m["mIoU"])} seeds)'

    def cost(m):
        if m['head_flops'] is None:
            return ''
        return (f', head {m["head_params"] / 1e6:.3f}M params, '
                f'{m["head_flops"] / 1e9:.3f} GFLOPs')

    lines = [f'{m["name"]}: {miou(m)}{cost(m)}' for m in report['models']]
    searched = report['models'][0]['name']
    for c in report['comparisons']:
        ratio = (f'; {100 * c["flops_ratio"]:.0f}% of its head FLOPs'
                 if c.get('flops_ratio') else '')
        if c['verdict'] is None:
            lines.append(f'{searched} vs {c["against"]}: no verdict (fewer '
                         f'than 2 seeds completed){ratio}')
        else:
            lines.append(
                f'{searched} vs {c["against"]}: {c["verdict"].upper()} '
                f'({c["difference"]:+.2f} mIoU, threshold '
                f'{c["threshold"]:.2f}){ratio}')
    return lines
