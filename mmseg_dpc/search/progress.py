"""Progress as events: what the search, re-ranking, the verdict and the
fidelity study report as they go, and the one formatter that words them.

Each event is a frozen dataclass. :class:`ProgressLog` prints it (through
:func:`format_event`) and appends it as one JSON line to
``WORK_DIR/progress.jsonl``; a watcher (the demo) reads the new lines
(:func:`read_events`) and prints them through the same formatter, so no one
picks progress out of a log by its wording.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from dataclasses import asdict, dataclass, fields
from typing import Dict, List, Optional, Sequence, Tuple, Union

PROGRESS_FILE = 'progress.jsonl'


def num(value: Optional[float], digits: int = 2) -> str:
    """A number for people: ``digits`` decimals, ``n/a`` where undefined."""
    return 'n/a' if value is None else f'{value:.{digits}f}'


# the fewest points whose rank correlation can tell agreement from chance:
# with n = 2 Spearman and Kendall are always +-1; with n = 3 even a perfect
# ranking has an exact two-sided p of 1/3, with n = 4 of 1/12; n = 5 is the
# first at which one ordering (p = 2/120 < 0.05) can
MIN_RANK_N = 5


def rank_correlations(n: int, spearman: Optional[float],
                      kendall: Optional[float],
                      spearman_p: Optional[float] = None,
                      kendall_p: Optional[float] = None) -> str:
    """``Spearman 0.80 (p 0.10), Kendall 0.60 (p 0.23), n = 6`` through
    :func:`num`; under :data:`MIN_RANK_N` points, the values with ``(n = 2:
    says nothing)`` and no p-values."""
    if spearman is None and n >= 2:  # see rerank.rank_correlation
        return (f'Spearman n/a, Kendall n/a (n = {n}: undefined, one task '
                'scored every cell the same)')
    if n < MIN_RANK_N:
        return (f'Spearman {num(spearman)}, Kendall {num(kendall)} '
                f'(n = {n}: says nothing)')

    def p(value: Optional[float]) -> str:
        return '' if value is None else f' (p {num(value)})'
    return (f'Spearman {num(spearman)}{p(spearman_p)}, Kendall '
            f'{num(kendall)}{p(kendall_p)}, n = {n}')


def duration(seconds: float) -> str:
    """``1h02m03s``, or ``2m03s`` under an hour."""
    seconds = int(max(seconds, 0))
    h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f'{h}h{m:02d}m{s:02d}s' if h else f'{m}m{s:02d}s'


@dataclass(frozen=True)
class SearchProgress:
    """The proxy search so far (see :meth:`~.scheduler.TrialScheduler.
    progress`): trials evaluated (complete or pruned) of ``num_trials``,
    running (less the one ``prepared`` ahead), failed, ``pruned`` and the
    proxy iterations the pruner ``saved`` (``None``: no pruner), the best
    trial's ``objective`` value, the time so far and the ETA (``None``:
    unknown)."""
    evaluated: int
    num_trials: int
    running: int
    prepared: bool
    failed: int
    pruned: Optional[int]
    saved: Optional[int]
    objective: str
    best_trial: Optional[int]
    best_value: Optional[float]
    best_arch_hash: Optional[str]
    elapsed: float
    eta: Optional[float]


@dataclass(frozen=True)
class TrainingPlanned:
    """A stage (``rerank``, ``verdict``, ``fidelity``) is about to train
    ``what``: ``kept`` runs were trained before, ``to_train`` are left."""
    stage: str
    what: str
    kept: int
    to_train: int


@dataclass(frozen=True)
class RunTrained:
    """One run of a stage ended: ``name``, its ``status`` and full-task
    mIoU (``proxy_mIoU`` too, for re-ranking), the first line of its
    ``error``, and the stage's ``done`` of ``total`` with the ETA
    (seconds)."""
    stage: str
    name: str
    status: str
    mIoU: Optional[float]
    done: int
    total: int
    eta: float
    error: Optional[str] = None
    proxy_mIoU: Optional[float] = None
    part: Optional[str] = None  # of the stage (fidelity: proxy, full)
    eta_guess: bool = False  # from too few runs of the kind to trust
    eta_from: Optional[int] = None  # runs of the kind the ETA is based on


class RunTimes:
    """The ETA of a stage's runs from the wall times of runs of the same
    kind (e.g. full-task runs: the re-ranking's, then the stage's own), as
    ``workers`` train at once; a guess until the stage's first
    ``workers`` runs (a whole first round) have ended."""

    def __init__(self, workers: int, before: Sequence[float] = ()) -> None:
        self.workers = max(1, workers)
        self.before = [t for t in before if t]
        self.own: List[float] = []

    def add(self, wall_time: Optional[float]) -> None:
        if wall_time:
            self.own.append(wall_time)

    def eta(self, remaining: int) -> Tuple[float, bool, int]:
        """Seconds for ``remaining`` runs, whether it is a guess, and the
        number of runs it is based on."""
        times = self.before + self.own
        if not times:
            return 0.0, True, 0
        seconds = sum(times) / len(times) * remaining / self.workers
        return seconds, len(self.own) < self.workers, len(times)


@dataclass(frozen=True)
class Message:
    """A stage's result in words (a verdict line, a correlation)."""
    stage: str
    text: str


@dataclass(frozen=True)
class TrainProgress:
    """A training run at ``iteration`` of ``max_iters`` (ETA ``None``:
    unknown yet)."""
    stage: str
    iteration: int
    max_iters: int
    eta: Optional[float]


@dataclass(frozen=True)
class CacheProgress:
    """Images whose features are cached so far, per split."""
    stage: str
    cached: Dict[str, Tuple[int, int]]  # split -> (cached, total)


Event = Union[SearchProgress, TrainingPlanned, RunTrained, Message,
              TrainProgress, CacheProgress]
EVENTS = {cls.__name__: cls for cls in (SearchProgress, TrainingPlanned,
                                        RunTrained, Message, TrainProgress,
                                        CacheProgress)}
# what a stage's runs trained before are called
_KEPT = dict(rerank='{kept} done before, {to_train} to train on the full '
             'task', verdict='{kept} trained before, {to_train} to train',
             fidelity='{kept} runs done before, {to_train} to train')


def format_event(e: Event) -> str:
    """The event in words, one line (two for a failed fidelity run)."""
    if isinstance(e, SearchProgress):
        pruned = ('' if e.pruned is None else
                  f', {e.pruned} pruned (saved {e.saved:,} proxy '
                  'iterations)')
        best = ('' if e.best_trial is None else
                f' | best {e.objective} {e.best_value:.2f} (trial '
                f'{e.best_trial}, {e.best_arch_hash})')
        eta = '' if e.eta is None else f', ETA {duration(e.eta)}'
        return (f'[search] {e.evaluated}/{e.num_trials} done, {e.running} '
                f'running{" (+1 prepared)" if e.prepared else ""}, '
                f'{e.failed} failed{pruned}{best} | elapsed '
                f'{duration(e.elapsed)}{eta}')
    if isinstance(e, TrainingPlanned):
        return (f'[{e.stage}] {e.what}: ' +
                _KEPT[e.stage].format(kept=e.kept, to_train=e.to_train))
    if isinstance(e, RunTrained):
        if e.stage == 'rerank':
            return (f'[rerank] {e.name}: proxy mIoU {num(e.proxy_mIoU)}, '
                    f'full {num(e.mIoU)} {e.status}')
        ok = e.status == 'COMPLETE'
        if e.stage == 'verdict':
            guess = (f' (a guess: {e.eta_from} full-task run'
                     f'{"s" if e.eta_from != 1 else ""} timed)'
                     if e.eta_guess else '')
            return (f'[verdict] {e.done}/{e.total} trained ({e.name}: '
                    f'{f"{e.mIoU:.2f} mIoU" if ok else "FAILED"}), ETA '
                    f'{e.eta / 60:.1f} min{guess}')
        failed = ('' if ok else
                  f'[fidelity] {e.part} {e.name} FAILED: {e.error}\n')
        return (f'{failed}[fidelity] {e.part}: {e.done}/{e.total} trained, '
                f'ETA {e.eta / 60:.1f} min')
    if isinstance(e, Message):
        return f'[{e.stage}] {e.text}'
    if isinstance(e, TrainProgress):
        eta = '' if e.eta is None else f', ETA {duration(e.eta)}'
        return (f'[{e.stage}] iteration {e.iteration}/{e.max_iters}{eta}')
    if isinstance(e, CacheProgress):
        return f'[{e.stage}] ' + ', '.join(
            f'{split} {n}/{total} images cached'
            for split, (n, total) in e.cached.items())
    raise TypeError(f'not a progress event: {e!r}')


def to_json(e: Event) -> str:
    return json.dumps(dict(event=type(e).__name__, **asdict(e)))


def from_json(line: str) -> Event:
    data = json.loads(line)
    cls = EVENTS[data.pop('event')]
    if cls is CacheProgress:
        data['cached'] = {k: tuple(v) for k, v in data['cached'].items()}
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


class ProgressLog:
    """Prints events and appends them to ``work_dir/progress.jsonl``.

    Args:
        work_dir: where ``progress.jsonl`` goes (``None``: printed only).
    """

    def __init__(self, work_dir: Optional[str]) -> None:
        self.path = (None if work_dir is None else
                     osp.join(work_dir, PROGRESS_FILE))

    def emit(self, event: Event) -> None:
        print(format_event(event), flush=True)
        if self.path is not None:
            os.makedirs(osp.dirname(self.path), exist_ok=True)
            with open(self.path, 'a') as f:
                f.write(to_json(event) + '\n')


def read_events(path: str, offset: int = 0) -> Tuple[List[Event], int]:
    """The events appended to ``path`` after byte ``offset`` (whole lines
    only), and the offset to read from next."""
    if not osp.exists(path):
        return [], offset
    with open(path, 'rb') as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b'\n') + 1  # a line being written waits
    events = [from_json(line) for line in data[:end].decode().splitlines()
              if line.strip()]
    return events, offset + end
