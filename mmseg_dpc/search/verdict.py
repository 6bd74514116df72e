"""The verdict: is the searched cell better than the baselines, over
training seeds?

After re-ranking, the best re-ranked cell, the cell with the median proxy
mIoU of the search (under random search, the median of a uniform sample)
and each baseline config (trained as it is: mmseg's ASPP head, the
released cell) are trained ``verdict.seeds`` times on the full task, as
re-ranking trains them (``rerank.cfg_options``; ``init_from``: the same
backbone and nothing else). The seeds follow the search's own: the one the
best cell was selected with does not count, so its luck is not scored.

The searched cell is compared with each other model by
:mod:`.comparison`: the difference of mean mIoU with its confidence
interval (paired by seed unless ``verdict.paired`` is False), *better* /
*worse* where Holm's correction across the comparisons rejects "no
difference", else *indistinguishable* with the smallest difference the
seeds could detect. Then the race (:func:`race`): while a comparison is
undecided and the searched cell has fewer than ``verdict.max_seeds``
seeds, the searched cell and the models of the undecided comparisons get
the next seed. Every round trains through one
:class:`~.runner.TrialRunner`, which keeps complete runs, so the same
command again re-derives the same rounds and trains nothing.
"""
from __future__ import annotations

import os.path as osp
import re
from dataclasses import dataclass
from typing import (Any, Callable, Dict, List, Mapping, Optional, Sequence,
                    Tuple)

import numpy as np
from mmengine.config import Config

from ..utils.io import atomic_write_json, read_json
from .architecture import Architecture
from .comparison import Verdict, decide, next_round
from .cost import counted_cost
from .full_task import crop_size, full_task_config, full_task_runner
from .progress import (Message, ProgressLog, RunTimes, RunTrained,
                       TrainingPlanned)
from .record import TrialRecord
from .rerank import RerankResult
from .runner import TrialRun
from .settings import RerankSettings, VerdictSettings

VERDICT_FILE = 'verdicts.json'
ALPHA = 0.05  # the family-wise error rate of one verdict's comparisons


def rule(paired: bool = True, alpha: float = ALPHA) -> str:
    """The verdict's rule in words."""
    test = ('a t-test paired by seed, on the seeds both have' if paired
            else "Welch's t-test")
    return (f'better / worse: the {100 * (1 - alpha):.0f}% confidence '
            f'interval of the difference of mean mIoU ({test}; Holm-'
            'corrected across the comparisons) excludes zero; otherwise '
            'indistinguishable')


# a round of the race: train these (model, seed) runs, return each one's
# mIoU (None where it failed)
TrainRound = Callable[[Sequence[Tuple[str, int]]],
                      Mapping[Tuple[str, int], Optional[float]]]


@dataclass(frozen=True)
class RaceRound:
    """One round of the race: ``seeds`` trained for ``models``."""
    seeds: Tuple[int, ...]
    models: Tuple[str, ...]


@dataclass(frozen=True)
class Race:
    """A race's end: each model's mIoU by seed (complete runs), the seeds
    each was tried with, the rounds, and the verdict on each other model
    (``None``: fewer than two seeds completed on one side)."""
    mIoU: Dict[str, Dict[int, float]]
    tried: Dict[str, Tuple[int, ...]]
    rounds: Tuple[RaceRound, ...]
    verdicts: Dict[str, Optional[Verdict]]


def judge(miou: Mapping[str, Mapping[int, float]], searched: str,
          others: Sequence[str], paired: bool = True,
          alpha: float = ALPHA) -> Dict[str, Optional[Verdict]]:
    """The searched cell against each of ``others`` on the mIoU so far,
    Holm's correction across those with two or more seeds each."""
    pairs = {o: (miou[searched], miou[o]) for o in others
             if len(miou[searched]) >= 2 and len(miou[o]) >= 2}
    decided = {v.name: v for v in decide(pairs, paired, alpha)} \
        if pairs else {}
    return {o: decided.get(o) for o in others}


def race(train: TrainRound, searched: str, others: Sequence[str],
         seeds: Sequence[int], max_seeds: int, paired: bool = True,
         alpha: float = ALPHA,
         after_round: Optional[Callable[[RaceRound, Dict[
             str, Optional[Verdict]]], None]] = None) -> Race:
    """Race the comparisons of ``searched`` with ``others``: first every
    model with ``seeds``, then, while a comparison is undecided and
    ``searched`` has been tried with fewer than ``max_seeds`` seeds, the
    next seed for ``searched`` and the undecided ones (a model decided
    once and undecided later joins again). ``after_round(round,
    verdicts)`` is called after each round."""
    models = (searched, *others)
    miou: Dict[str, Dict[int, float]] = {m: {} for m in models}
    tried: Dict[str, List[int]] = {m: [] for m in models}
    rounds: List[RaceRound] = []
    todo: Optional[RaceRound] = RaceRound(tuple(seeds), models)
    while todo is not None:
        runs = [(m, s) for m in todo.models for s in todo.seeds]
        results = train(runs)
        for m, s in runs:
            tried[m].append(s)
            value = results.get((m, s))
            if value is not None:
                miou[m][s] = float(value)
        rounds.append(todo)
        verdicts = judge(miou, searched, others, paired, alpha)
        if after_round is not None:
            after_round(todo, verdicts)
        undecided = [o for o in others
                     if verdicts[o] is None or not verdicts[o].decided]
        nxt = next_round(tried, undecided, searched, max_seeds)
        todo = RaceRound((nxt.seed,), nxt.models) if nxt else None
    return Race(miou, {m: tuple(t) for m, t in tried.items()},
                tuple(rounds), verdicts)


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
    (:mod:`.full_task`) through a :class:`~.runner.TrialRunner` of its own,
    races the undecided comparisons (:func:`race`) and writes
    ``verdicts.json``; runs whose record is COMPLETE are kept on resume.

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
        self.max_seeds = verdict.max_seeds
        self.paired = verdict.paired
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
        """Train what is missing, race, then write and return
        ``verdicts.json``. ``ranked``: the complete proxy trials, best
        first."""
        models = self.models(rerank, ranked)
        by_name = {m.name: (i, m) for i, m in enumerate(models)}
        records: Dict[Tuple[str, int], TrialRecord] = {}
        rounds = 0
        # the ETA from full-task runs only: the re-ranking's, then these
        times = RunTimes(self.runner.launcher.workers,
                         [r.wall_time for r in rerank.completed])

        def train(pairs: Sequence[Tuple[str, int]]
                  ) -> Dict[Tuple[str, int], Optional[float]]:
            nonlocal rounds
            rounds += 1
            runs = [self._run(*by_name[name], seed) for name, seed in pairs]
            seeds = sorted({s for _, s in pairs})
            names = list(dict.fromkeys(n for n, _ in pairs))

            def before(kept: int, to_train: int) -> None:
                what = (f'{len(names)} models x {len(seeds)} seeds (seeds '
                        f'{seeds[0]}-{seeds[-1]}) on the full task'
                        if rounds == 1 else
                        f'race round {rounds}: seed '
                        f'{", ".join(map(str, seeds))} for {names[0]} and '
                        f'the {len(names) - 1} '
                        f'undecided ({", ".join(names[1:])})')
                self.log.emit(TrainingPlanned('verdict', what, kept,
                                              to_train))

            def after(run, record, done, total, eta) -> None:
                times.add(record.wall_time)
                eta, guess, timed = times.eta(total - done)
                self.log.emit(RunTrained(
                    'verdict', f'{run.key[0]}, seed {run.seed}',
                    record.status, record.metrics.get('mIoU'), done, total,
                    eta, eta_guess=guess, eta_from=timed))

            got = self.runner.train(runs, poll_interval, before, after)
            records.update(got)
            return {k: (r.metrics['mIoU'] if r.complete else None)
                    for k, r in got.items()}

        def after_round(done: RaceRound, verdicts) -> None:
            decided = [n for n, v in verdicts.items() if v and v.decided]
            self.log.emit(Message('verdict', (
                f'after seeds up to {max(done.seeds)}: '
                f'{len(decided)} of {len(verdicts)} comparisons decided'
                + (f' ({", ".join(decided)})' if decided else ''))))

        result = race(train, models[0].name, [m.name for m in models[1:]],
                      self.seeds, self.max_seeds, self.paired, ALPHA,
                      after_round)
        report = self._summary(models, result, records)
        atomic_write_json(osp.join(self.work_dir, VERDICT_FILE), report)
        for line in verdict_lines(report):
            self.log.emit(Message('verdict', line))
        return report

    def _run(self, number: int, model: Model, seed: int) -> TrialRun:
        return TrialRun((model.name, seed), number, model.arch,
                        osp.join(self.dir, f'{model.slug}-s{seed}'), {},
                        seed=seed, base=model.base)

    def _summary(self, models: List[Model], result: Race,
                 results: Dict[Tuple[str, int], TrialRecord]
                 ) -> Dict[str, Any]:
        rows = []
        for m in models:
            tried = sorted(result.tried[m.name])
            records = [results.get((m.name, s)) for s in tried]
            miou = result.mIoU[m.name]
            cost = self._head_cost(records)
            rows.append(dict(
                name=m.name, role=m.role,
                arch_hash=m.arch.hash if m.arch else None,
                arch=m.arch.to_list() if m.arch else None,
                head_type=cost.get('head_type'),
                seeds=sorted(miou),
                mIoU=[miou[s] for s in sorted(miou)],
                mean=float(np.mean(list(miou.values()))) if miou else None,
                std=(float(np.std(list(miou.values()), ddof=1))
                     if len(miou) > 1 else None),
                head_params=cost.get('params'),
                head_flops=cost.get('flops'),
                failed=[dict(seed=s, error=r.error)
                        for s, r in zip(tried, records)
                        if r is not None and not r.complete],
                runs=[r.run_dir for r in records if r is not None]))
        searched = rows[0]
        comparisons = []
        for other in rows[1:]:
            c = dict(against=other['name'], verdict=None)
            v = result.verdicts[other['name']]
            if v is not None:
                d = v.difference
                c.update(verdict=v.verdict, difference=d.difference,
                         ci=list(d.ci), confidence=d.confidence, p=d.p,
                         p_holm=v.p_holm, paired=d.paired,
                         seeds=list(d.seeds), detectable=d.detectable,
                         per_seed_std=d.per_seed_std, effect=d.effect)
            if searched['head_flops'] and other['head_flops']:
                c['flops_ratio'] = searched['head_flops'] / \
                    other['head_flops']
            comparisons.append(c)
        return dict(seeds=sorted(result.tried[models[0].name]),
                    min_seeds=len(self.seeds), max_seeds=self.max_seeds,
                    paired=self.paired, alpha=ALPHA,
                    rule=rule(self.paired, ALPHA),
                    initialised=self.initialised,
                    rounds=[dict(seeds=list(r.seeds), models=list(r.models))
                            for r in result.rounds],
                    models=rows, comparisons=comparisons)

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


def _seed_list(seeds: Sequence[int]) -> str:
    """1, 2, 3, 5 as '1-3, 5'."""
    spans: List[List[int]] = []
    for s in sorted(seeds):
        if spans and spans[-1][1] == s - 1:
            spans[-1][1] = s
        else:
            spans.append([s, s])
    return ', '.join(str(a) if a == b else f'{a}-{b}' for a, b in spans)


@dataclass(frozen=True)
class Column:
    """A column of a verdict table: its markdown ``header``, how a console
    line shows a value (``console``: a format with ``{}``; ``None``: not
    shown there) and whether the value is the row's verdict (bold in
    markdown, capitals on the console)."""
    header: str
    console: Optional[str] = '{}'
    verdict: bool = False


@dataclass(frozen=True)
class Table:
    """Rows of formatted values, rendered as markdown or console lines:
    the one place the verdict's numbers are formatted."""
    columns: Tuple[Column, ...]
    rows: Tuple[Tuple[str, ...], ...]

    def markdown(self) -> List[str]:
        def cell(col: Column, value: str) -> str:
            return f'**{value}**' if col.verdict and value else value
        return ['| ' + ' | '.join(c.header for c in self.columns) + ' |',
                '| ' + ' | '.join('---' for _ in self.columns) + ' |'] + [
            '| ' + ' | '.join(cell(c, v) for c, v in zip(self.columns, r))
            + ' |' for r in self.rows]

    def console(self) -> List[str]:
        """A line a row: its first value, then the others it shows."""
        def cell(col: Column, value: str) -> str:
            return value.upper() if col.verdict else col.console.format(
                value)
        return [f'{r[0]}: ' + ', '.join(
            cell(c, v) for c, v in zip(self.columns[1:], r[1:])
            if v and c.console is not None) for r in self.rows]


def _p(p: Optional[float]) -> str:
    return '' if p is None else '< 0.001' if p < 0.001 else f'{p:.3f}'


def verdict_tables(report: Dict[str, Any]) -> Tuple[Table, Table]:
    """``verdicts.json`` as two tables: the models (mIoU over seeds, head
    cost) and the searched cell's comparisons (difference, interval,
    Holm's p, seeds, verdict)."""
    models = Table((
        Column('model'), Column('cell', None),
        Column('mIoU mean +- std (seeds)', 'mIoU {}'),
        Column('seeds', 'seeds {}'),
        Column('head params', 'head {} params'),
        Column('head GFLOPs', '{} GFLOPs'),
        Column('failed', 'failed: {}')), tuple(
        (m['name'], m['arch_hash'] or m['head_type'] or '',
         'no run completed' if m['mean'] is None else
         f'{m["mean"]:.2f} +- {m["std"]:.2f} ({len(m["mIoU"])})'
         if m['std'] is not None else f'{m["mean"]:.2f} (1)',
         _seed_list(m['seeds']),
         '' if m['head_params'] is None else f'{m["head_params"]:,}',
         '' if m['head_flops'] is None else f'{m["head_flops"] / 1e9:.3f}',
         ', '.join(f'seed {f["seed"]}' for f in m.get('failed', ())))
        for m in report['models']))
    searched = report['models'][0]['name']
    rows = []
    for c in report['comparisons']:
        ratio = (f'{100 * c["flops_ratio"]:.0f}%' if c.get('flops_ratio')
                 else '')
        if c['verdict'] is None:
            rows.append((f'{searched} vs {c["against"]}',
                         'no verdict (fewer than 2 seeds completed)', '',
                         '', '', '', '', '', ratio))
            continue
        ci, n = c.get('ci'), c.get('seeds') or ()
        rows.append((
            f'{searched} vs {c["against"]}', c['verdict'],
            f'{c["difference"]:+.2f}',
            '' if ci is None else
            f'[{ci[0]:+.2f}, {ci[1]:+.2f}] ({100 * c["confidence"]:.3g}%)',
            _p(c.get('p_holm')),
            '' if not n else f'{n[0]} paired' if c.get('paired') else
            f'{n[0]} / {n[1]} (Welch)',
            '' if c.get('effect') is None else f'{c["effect"]:+.2f}',
            f'{c["detectable"]:.2f}' if c['verdict'] == 'indistinguishable'
            and c.get('detectable') is not None else '', ratio))
    comparisons = Table((
        Column('comparison'), Column('verdict', verdict=True),
        Column('difference (mIoU)', '{} mIoU'),
        Column('interval (Holm level)', 'interval {}'),
        Column('p (Holm)', 'p (Holm) {}'), Column('seeds', 'seeds {}'),
        Column('difference / seed std', 'difference / seed std {}'),
        Column('smallest detectable', 'could detect {} mIoU'),
        Column('head FLOPs vs it', '{} of its head FLOPs')), tuple(rows))
    return models, comparisons


def verdict_lines(report: Dict[str, Any]) -> List[str]:
    """The verdict on the console: a line per model, then a line per
    comparison (the tables of :func:`verdict_tables`)."""
    models, comparisons = verdict_tables(report)
    return models.console() + comparisons.console()
