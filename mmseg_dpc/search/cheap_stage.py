"""The cheap stage of a search (strategy ``one_shot`` or ``zero_cost``):
rank ``candidates`` uniform cells cheaply, then propose the best to the
stand-alone proxy search.

Before the proxy search's loop the driver calls :meth:`CheapStage.propose`:

1. ``one_shot`` only: the supernet is trained once, as one run of the
   search's own :class:`~.runner.TrialRunner` and launcher in
   ``WORK_DIR/supernet/`` (a complete run made with the same config is
   kept), unless the strategy names a trained ``supernet_checkpoint``;
2. the ``candidates`` cells (uniform, seeded by the strategy's seed, else
   the search's; repeats dropped) are scored by
   :class:`~.one_shot.OneShotScorer` (mIoU with inherited weights) or
   :class:`~.zero_cost.ZeroCostScorer` (one score at initialisation); each
   score is a :class:`CheapScore` record appended to
   ``WORK_DIR/cheap_scores.jsonl`` ``write_every`` cells at a time, so a
   killed driver loses at most one batch and a resumed one scores only the
   cells the file lacks (records of other scoring settings are ignored);
3. the best ``num_trials`` feasible cells are enqueued in the study best
   first (cells the study holds already are skipped), and their scores set
   as the study's user attributes ``cheap_stage`` and ``cheap_scores``.

The proxy search then trains them as any strategy's trials: admission,
pruner, retries, re-ranking, the verdict, Ray and a shared storage are
unchanged; once the proposals are used the sampler is uniform.
"""
from __future__ import annotations

import copy
import json
import math
import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional,
                    Sequence, Set)

from mmengine.config import Config

from . import interrupt
from .architecture import Architecture
from .optuna_adapter import OptunaSpaceAdapter
from .record import TrialRecord, arch_hash_of
from .runner import TrialRun, TrialRunner, load_base_config
from .scoring_progress import ScoringProgress
from .settings import CheapStageSettings, SearchSettings
from .space import DPCSearchSpace

SCORES_FILE = 'cheap_scores.jsonl'
SUPERNET_DIR = 'supernet'
# the space fields a supernet must share with the search space
_SPACE_FIELDS = ('num_branches', 'rates', 'grids', 'ops')


@dataclass(frozen=True)
class CheapScore:
    """One cell's cheap score (bigger is better), with its proxy cost and
    its place among the candidates; ``scored_by`` names the stage and its
    settings (a resume reuses only records of the same); ``seconds``: its
    share of the scoring time of its batch (the supernet's training not
    included)."""
    index: int
    arch: Architecture
    score: float
    params: int
    flops: int
    scored_by: str
    seconds: float = 0.0

    @property
    def hash(self) -> str:
        return self.arch.hash

    @property
    def finite(self) -> bool:
        return math.isfinite(self.score)

    def to_json(self) -> Dict[str, Any]:
        return dict(index=self.index, hash=self.hash,
                    cell=self.arch.to_list(),
                    score=self.score if self.finite else str(self.score),
                    params=self.params, flops=self.flops,
                    scored_by=self.scored_by, seconds=self.seconds)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> 'CheapScore':
        return cls(int(d['index']), Architecture(d['cell']),
                   float(d['score']), int(d['params']), int(d['flops']),
                   str(d['scored_by']), float(d.get('seconds', 0.0)))


def ranked(scores: Iterable[CheapScore]) -> List[CheapScore]:
    """Best first; non-finite scores last; ties by candidate index."""
    return sorted(scores, key=lambda s: (not s.finite,
                                         -s.score if s.finite else 0.0,
                                         s.index))


class ScoresFile:
    """``cheap_scores.jsonl``: one :class:`CheapScore` per line, appended
    in batches. A line torn by a kill is cut off on reading."""

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self, scored_by: Optional[str] = None) -> List[CheapScore]:
        """The records (of ``scored_by`` only, where given)."""
        if not osp.exists(self.path):
            return []
        with open(self.path, 'rb') as f:
            data = f.read()
        end = data.rfind(b'\n') + 1
        if end < len(data):  # a torn last line: drop it for the appends
            with open(self.path, 'r+b') as f:
                f.truncate(end)
        out = []
        for line in data[:end].decode().splitlines():
            if line.strip():
                s = CheapScore.from_json(json.loads(line))
                if scored_by is None or s.scored_by == scored_by:
                    out.append(s)
        return out

    def append(self, scores: Sequence[CheapScore]) -> None:
        if not scores:
            return
        os.makedirs(osp.dirname(self.path) or '.', exist_ok=True)
        text = ''.join(json.dumps(s.to_json()) + '\n' for s in scores)
        with open(self.path, 'a') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def read_scores(work_dir: str) -> List[CheapScore]:
    """The cheap scores a search wrote in ``work_dir`` (none: ``[]``)."""
    return ScoresFile(osp.join(work_dir, SCORES_FILE)).read()


def uniform_candidates(space: DPCSearchSpace, n: int,
                       seed: int) -> List[Architecture]:
    """``n`` uniform cells of one seeded stream, repeats dropped (first
    kept)."""
    seen: Set[str] = set()
    out = []
    for arch in space.samples(n, seed):
        if arch.hash not in seen:
            seen.add(arch.hash)
            out.append(arch)
    return out


# --- the supernet's config ----------------------------------------------
def supernet_config(proxy: Config, space: DPCSearchSpace,
                    settings: CheapStageSettings, seed: int) -> Config:
    """The one-shot stage's supernet config: ``settings.supernet_config``
    (with its options), else the proxy's with a ``DPCSupernetHead`` of the
    search space in place of its ``DPCHead``. Raises ``ValueError`` where
    the head is not a supernet of the search space."""
    if settings.supernet_config is not None:
        cfg = load_base_config(settings.supernet_config,
                               settings.supernet_cfg_options, any_head=True)
    else:
        cfg = copy.deepcopy(proxy)
        head = copy.deepcopy(cfg.model.decode_head.to_dict())
        if head.get('c1_in_channels'):
            raise ValueError('strategy one_shot: the proxy head has a '
                             'decoder (c1_in_channels); the supernet holds '
                             'the cell alone')
        for key in ('type', 'arch', 'c1_in_channels', 'c1_channels',
                    'c1_in_index'):
            head.pop(key, None)
        head.update(type='DPCSupernetHead',
                    num_branches=space.num_branches,
                    rates=list(space.rates), grids=list(space.grids),
                    ops=list(space.ops), sharing=settings.sharing,
                    sample_seed=seed)
        cfg.model.decode_head = head
        # each step trains one path: the other ops get no gradient
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                                     find_unused_parameters=True)
        if settings.supernet_cfg_options:
            cfg.merge_from_dict(settings.supernet_cfg_options)
    head = cfg.model.decode_head
    if head.get('type') != 'DPCSupernetHead':
        raise ValueError(f'strategy.supernet_config {cfg.filename}: '
                         f'decode_head is {head.get("type")!r}, not a '
                         'DPCSupernetHead')
    from ..models.utils import PAPER_GRIDS, PAPER_RATES
    from ..models.utils.cell_spec import OPS
    theirs = dict(num_branches=head.get('num_branches', 5),
                  rates=tuple(head.get('rates', PAPER_RATES)),
                  grids=tuple(head.get('grids', PAPER_GRIDS)),
                  ops=tuple(head.get('ops', OPS)))
    _check_space(space, theirs, 'strategy.supernet_config: the supernet '
                 'head is of another space')
    return cfg


def _check_space(space: DPCSearchSpace, theirs: Mapping[str, Any],
                 what: str) -> None:
    theirs = {k: theirs[k] if k == 'num_branches' else tuple(theirs[k])
              for k in _SPACE_FIELDS}
    diff = [f'{k} {getattr(space, k)!r} vs {theirs[k]!r}'
            for k in _SPACE_FIELDS if theirs[k] != getattr(space, k)]
    if diff:
        raise ValueError(f'{what} (search space vs supernet: '
                         + '; '.join(diff) + ')')


def check_checkpoint_space(path: str, space: DPCSearchSpace,
                           supernet_cfg: Config) -> None:
    """Raise ``ValueError`` naming each field where the supernet saved in
    checkpoint ``path`` differs from the search space and the supernet
    config (it scores only the cells it was trained on)."""
    import torch

    from ..models.utils.dpc_supernet import DEFAULT_SHARING, SupernetSpace
    from ..utils.checkpoint import (CheckpointError, check_checkpoint,
                                    register_checkpoint_safe_globals)
    register_checkpoint_safe_globals()  # a saved run holds mmengine's state
    try:  # weights only: a checkpoint is data, never code to run
        check_checkpoint(path)
    except CheckpointError as e:
        raise ValueError(f'strategy.supernet_checkpoint: {e}') from None
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else {}
    keys = [k for k in state if k.endswith('supernet._extra_state')]
    if not keys:
        raise ValueError(f'strategy.supernet_checkpoint {path}: holds no '
                         'DPC supernet (no supernet._extra_state)')
    theirs = SupernetSpace.from_dict(state[keys[0]])
    what = (f'strategy.supernet_checkpoint {path}: a supernet of another '
            'space')
    _check_space(space, theirs.to_dict(), what)
    head = supernet_cfg.model.decode_head
    mine = dict(head, sharing=head.get('sharing', DEFAULT_SHARING))
    diff = [f'{k} {mine[k]!r} vs {getattr(theirs, k)!r}'
            for k in ('sharing', 'in_channels', 'channels')
            if k in mine and mine[k] != getattr(theirs, k)]
    if diff:
        raise ValueError(f'{what} (supernet config vs checkpoint: '
                         + '; '.join(diff) + ')')


# --- the stage ------------------------------------------------------------
class CheapStage:
    """Scores the candidates of a cheap strategy and proposes the best.

    Built by the driver before anything exists (every setting it can check
    is checked here: the supernet's config and checkpoint, candidates >=
    num_trials); :meth:`propose` does the work.

    Args:
        settings: the search settings (``strategy.cheap`` set).
        space: the search space.
        proxy: the proxy base config (see :func:`~.runner.load_base_config`).
        cost: ``cell -> dict(params, flops)`` of the proxy head.
        work_dir: the search's work dir.
    """

    def __init__(self, settings: SearchSettings, space: DPCSearchSpace,
                 proxy: Config, cost: Callable, work_dir: str) -> None:
        cheap = settings.strategy.cheap
        if cheap is None:
            raise ValueError(f'strategy {settings.strategy.type!r} has no '
                             'cheap stage')
        if cheap.candidates < settings.num_trials:
            raise ValueError(f'strategy.candidates ({cheap.candidates}) must '
                             f'be >= num_trials ({settings.num_trials}): '
                             'the proxy trains the best candidates')
        self.settings, self.cheap = settings, cheap
        self.space = space
        self.adapter = OptunaSpaceAdapter(space)
        self.proxy = copy.deepcopy(proxy)
        self.cost = cost
        self.work_dir = osp.abspath(work_dir)
        seed = settings.strategy.seed
        self.seed = settings.seed if seed is None else seed
        self.file = ScoresFile(osp.join(self.work_dir, SCORES_FILE))
        self.supernet_cfg: Optional[Config] = None
        if cheap.stage == 'one_shot':
            self.supernet_cfg = supernet_config(self.proxy, space, cheap,
                                                self.seed)
            if cheap.supernet_checkpoint is not None:
                check_checkpoint_space(cheap.supernet_checkpoint, space,
                                       self.supernet_cfg)
        self._check_maps()

    def _check_maps(self) -> None:
        """The cached splits hold the maps the scoring asks for."""
        from .cached_batches import split_size
        c = self.cheap
        cfg = self.supernet_cfg or self.proxy
        bs = cfg.train_dataloader.batch_size
        train = split_size(cfg, 'train_dataloader')
        if c.stage == 'one_shot':
            need = c.bn_batches * (c.bn_batch_size or bs)
            if need > train:
                raise ValueError(
                    f'strategy.bn_batches x bn_batch_size = {c.bn_batches} '
                    f'x {c.bn_batch_size or bs} = {need} maps, the cached '
                    f'train split holds {train}')
            val = split_size(cfg, 'val_dataloader')
            if c.num_val is not None and c.num_val > val:
                raise ValueError(f'strategy.num_val {c.num_val}: the cached '
                                 f'val split holds {val} maps')
        elif (c.batch_size or bs) > train:
            raise ValueError(f'strategy.batch_size {c.batch_size or bs}: '
                             f'the cached train split holds {train} maps')

    @classmethod
    def from_settings(cls, settings: SearchSettings, space: DPCSearchSpace,
                      proxy: Config, cost: Callable,
                      work_dir: str) -> Optional['CheapStage']:
        """The stage of a cheap strategy; ``None`` for the others."""
        if settings.strategy.cheap is None:
            return None
        return cls(settings, space, proxy, cost, work_dir)

    # --- one-shot: the supernet -------------------------------------------
    def train_supernet(self, launcher, poll_interval: float = 0.5) -> str:
        """The trained supernet's checkpoint: the strategy's, else the
        last one of ``WORK_DIR/supernet/``, trained there first through
        ``launcher`` unless a complete run of the same config is there."""
        if self.cheap.supernet_checkpoint is not None:
            return self.cheap.supernet_checkpoint
        st = self.settings
        runner = TrialRunner(launcher, self.supernet_cfg, self.seed,
                             threads_per_trial=st.threads_per_trial or
                             os.cpu_count())
        run_dir = osp.join(self.work_dir, SUPERNET_DIR)
        run = TrialRun('supernet', 0, None, run_dir, {})
        record = runner.train(
            [run], poll_interval,
            before=lambda kept, todo: print(
                f'[cheap] supernet: {"kept" if kept else "training"} '
                f'{run_dir}', flush=True))['supernet']
        if not record.complete:
            raise RuntimeError(f'the supernet run in {run_dir} failed: '
                               f'{record.error}')
        last = osp.join(run_dir, 'last_checkpoint')
        if not osp.isfile(last):
            raise RuntimeError(f'the supernet run in {run_dir} saved no '
                               'checkpoint (default_hooks.checkpoint)')
        with open(last) as f:
            return f.read().strip()

    def supernet_seconds(self) -> float:
        """Wall time of the supernet run in the work dir (0: none, e.g. a
        trained ``supernet_checkpoint`` was given)."""
        if self.cheap.supernet_checkpoint is not None:
            return 0.0
        rec = TrialRecord.read(osp.join(self.work_dir, SUPERNET_DIR))
        return float(rec.wall_time or 0.0) if rec else 0.0

    # --- scoring ----------------------------------------------------------
    def scored_by(self, checkpoint: Optional[str] = None) -> str:
        """The stage and every setting its scores depend on."""
        c = self.cheap
        if c.stage == 'zero_cost':
            what = dict(stage='zero_cost', score=c.score, seed=self.seed,
                        batch_size=c.batch_size)
        else:
            st = os.stat(checkpoint)
            what = dict(stage='one_shot', checkpoint=checkpoint,
                        size=st.st_size, mtime_ns=st.st_mtime_ns,
                        bn_batches=c.bn_batches,
                        bn_batch_size=c.bn_batch_size, num_val=c.num_val,
                        seed=self.seed)
        return json.dumps(what, sort_keys=True)

    def _scorer(self, checkpoint: Optional[str]):
        """``cells -> iterator of (index, score)`` and the progress
        callback's argument type."""
        c = self.cheap
        if c.stage == 'zero_cost':
            from .zero_cost import ZeroCostScorer
            scorer = ZeroCostScorer.from_config(
                self.proxy, scores=[c.score], batch_size=c.batch_size,
                seed=self.seed, device=c.device)
            return lambda cells, progress: (
                (r.index, r.scores[c.score])
                for r in scorer.score_cells(cells, progress))
        from .one_shot import OneShotOptions, OneShotScorer
        scorer = OneShotScorer.from_config(
            self.supernet_cfg, checkpoint, OneShotOptions(
                bn_batches=c.bn_batches, bn_batch_size=c.bn_batch_size,
                bn_seed=self.seed, num_val=c.num_val), device=c.device)
        return lambda cells, progress: (
            (r.index, r.miou) for r in scorer.score_cells(cells, progress))

    def scores(self, launcher=None, poll_interval: float = 0.5,
               cells: Optional[Sequence[Architecture]] = None
               ) -> List[CheapScore]:
        """Every candidate's score (``cells``, default the strategy's
        uniform candidates): those in the scores file (of the same
        settings) read back, the others computed and appended."""
        checkpoint = (self.train_supernet(launcher, poll_interval)
                      if self.cheap.stage == 'one_shot' else None)
        scored_by = self.scored_by(checkpoint)
        if cells is None:
            cells = uniform_candidates(self.space, self.cheap.candidates,
                                       self.seed)
        done = {s.hash: s for s in self.file.read(scored_by)}
        todo = [(i, a) for i, a in enumerate(cells) if a.hash not in done]
        name = f'{self.cheap.stage} ({self.cheap.score})'
        print(f'[cheap] {name}: {len(cells)} candidates, {len(done)} scored '
              f'before, {len(todo)} to score', flush=True)
        if todo:
            self._score(todo, checkpoint, scored_by, name, done)
        return [done[a.hash] for a in cells]

    def _score(self, todo, checkpoint, scored_by, name, done) -> None:
        start = time.monotonic()
        score_cells = self._scorer(checkpoint)
        batch: List[tuple] = []
        last: List[Optional[ScoringProgress]] = [None]
        printed = [start]
        since = [start]  # the batch's start (the first: loading included)

        def flush():
            now = time.monotonic()
            each = (now - since[0]) / max(len(batch), 1)
            since[0] = now
            records = []
            for index, arch, value in batch:
                cost = self.cost(arch.branches)
                records.append(CheapScore(
                    index, arch, float(value), int(cost['params']),
                    int(cost['flops']), scored_by, each))
            self.file.append(records)
            for s in records:
                done[s.hash] = s
            batch.clear()
            p, now = last[0], time.monotonic()
            if p is not None and (now - printed[0] > 10 or p.done == p.total):
                printed[0] = now
                eta = '' if p.eta_s is None else f', ETA {p.eta_s:.0f}s'
                print(f'[cheap] {name}: {p.done}/{p.total} scored, '
                      f'{p.cells_per_s:.2f} cells/s{eta}', flush=True)

        def progress(p: ScoringProgress) -> None:
            last[0] = p

        try:
            for k, value in score_cells([a for _, a in todo], progress):
                index, arch = todo[k]
                batch.append((index, arch, value))
                if len(batch) >= self.cheap.write_every:
                    flush()
                interrupt.check()  # Ctrl-C: keep what is scored, stop
        finally:
            flush()

    # --- proposing --------------------------------------------------------
    def feasible(self, s: CheapScore) -> bool:
        """Within the search's constraints (``max_params``, ``max_flops``)."""
        c = self.settings.constraints
        return all(c.get(f'max_{k}') is None or getattr(s, k) <= c[f'max_{k}']
                   for k in ('params', 'flops'))

    def cells_in_study(self, study) -> Set[str]:
        """Hashes of the cells the study holds: admitted trials' and
        waiting ones' (enqueued, retries)."""
        out = set()
        for t in study.get_trials(deepcopy=False):
            h = arch_hash_of(t)
            params = t.params or t.system_attrs.get('fixed_params')
            if h is None and params:
                try:
                    h = self.adapter.from_params(params).hash
                except ValueError:
                    continue
            if h is not None:
                out.add(h)
        return out

    def propose(self, ledger, launcher=None,
                poll_interval: float = 0.5) -> List[CheapScore]:
        """Score the candidates (see :meth:`scores`) and enqueue the best
        ``num_trials`` feasible ones the study lacks, best first; returns
        the best ``num_trials``."""
        st = self.settings
        best = [s for s in ranked(self.scores(launcher, poll_interval))
                if self.feasible(s)][:st.num_trials]
        study = ledger.study
        present = self.cells_in_study(study)
        new = [s for s in best if s.hash not in present]
        for s in new:
            study.enqueue_trial(self.adapter.params(s.arch))
        study.set_user_attr('cheap_stage', dict(
            stage=self.cheap.stage, score=self.cheap.score,
            candidates=self.cheap.candidates,
            scores_file=self.file.path, proposed=len(best)))
        study.set_user_attr('cheap_scores', {
            s.hash: s.score if s.finite else None for s in best})
        print(f'[cheap] proposed the best {len(best)} cells to the proxy '
              f'search ({len(best) - len(new)} in the study already); best '
              f'score {best[0].score:.4g}' if best else
              '[cheap] no feasible candidate to propose', flush=True)
        return best
