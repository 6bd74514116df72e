"""The search config's settings, checked before anything is created.

A search that starts must not fail later on a setting it could have read at
once: every key's type and range is checked here, before the study, the
storage or a trial exists, and each bad value is a ``ValueError`` naming
its key.
"""
from __future__ import annotations

import inspect
import numbers
import os.path as osp
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional, Sequence, Set

from mmengine.config import Config

from ..utils.config import resolve_config_path
from .config_keys import check_known_keys
from .fingerprint import ON_CHANGED

STRATEGIES = ('random', 'evolution', 'tpe', 'nsga2', 'one_shot', 'zero_cost')
# strategies that rank `candidates` cells by a cheap stage first
CHEAP_STAGES = ('one_shot', 'zero_cost')
_CHEAP_KEYS = {'seed', 'candidates', 'write_every', 'device'}
STRATEGY_KEYS = dict(random={'seed'},
                     evolution={'seed', 'population_size', 'sample_size'},
                     one_shot=_CHEAP_KEYS | {
                         'supernet_config', 'supernet_cfg_options',
                         'supernet_checkpoint', 'sharing', 'bn_batches',
                         'bn_batch_size', 'num_val'},
                     zero_cost=_CHEAP_KEYS | {'score', 'batch_size'})
SUPERNET_SHARING = ('rate_pair', 'position')
METRICS = ('mIoU', 'mAcc', 'aAcc')
COST_OBJECTIVES = ('params', 'flops')
CONSTRAINT_KEYS = tuple(f'max_{k}' for k in COST_OBJECTIVES)
# Optuna's pruners by config name: their keys, and the ones they need
PRUNER_KEYS = dict(
    SuccessiveHalving=({'min_resource', 'reduction_factor',
                        'min_early_stopping_rate'}, {'min_resource'}),
    Hyperband=({'min_resource', 'reduction_factor'}, {'min_resource'}),
    Median=({'n_startup_trials', 'n_warmup_steps', 'interval_steps'},
            {'interval_steps'}))


def _int(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f'{key} must be an integer, got {value!r}')
    if value < minimum:
        raise ValueError(f'{key} must be >= {minimum}, got {value}')
    return int(value)


def _positive(key: str, value: Any, optional: bool = False
              ) -> Optional[float]:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f'{key} must be a number of seconds, got {value!r}')
    if not value > 0:
        raise ValueError(f'{key} must be > 0, got {value}')
    return float(value)


def _dict(key: str, value: Any, allowed=None) -> Dict[str, Any]:
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise ValueError(f'{key} must be a dict, got {value!r}')
    unknown = set(value) - set(allowed) if allowed is not None else set()
    if unknown:
        raise ValueError(f'{key}: unknown keys {sorted(unknown)} (known: '
                         f'{sorted(allowed)})')
    return dict(value)


def _objectives(objs: Any) -> List[Dict[str, str]]:
    if not isinstance(objs, (list, tuple)) or not objs:
        raise ValueError('objectives must be a non-empty list of dicts')
    out = []
    for o in objs:
        o = _dict('objectives[]', o, ('name', 'direction'))
        if o.get('name') not in METRICS + COST_OBJECTIVES:
            raise ValueError(f'objective {o}: name must be one of '
                             f'{METRICS + COST_OBJECTIVES}')
        if o.get('direction') not in ('maximize', 'minimize'):
            raise ValueError(f'objective {o}: direction must be maximize '
                             'or minimize')
        out.append(o)
    return out


@dataclass(frozen=True)
class CheapStageSettings:
    """A cheap stage ranking ``candidates`` uniform cells before the proxy
    search (strategy ``one_shot`` or ``zero_cost``, see
    :mod:`.cheap_stage`): its ``score`` (``'mIoU'`` with inherited
    weights, or a zero-cost score's name), scores appended to the work
    dir's file ``write_every`` cells at a time, on ``device``.

    ``one_shot``: the supernet config (``supernet_config``, else the
    proxy's with a ``DPCSupernetHead`` of the search space and
    ``sharing``), ``supernet_cfg_options`` over it, a trained
    ``supernet_checkpoint`` (``None``: trained in the work dir first), and
    the scoring's BN batches and validation maps. ``zero_cost``: maps in
    its one batch (``batch_size``, ``None``: the proxy's)."""
    stage: str
    candidates: int
    score: str = 'mIoU'
    write_every: int = 64
    device: str = 'cpu'
    supernet_config: Optional[str] = None
    supernet_cfg_options: Dict[str, Any] = field(default_factory=dict)
    supernet_checkpoint: Optional[str] = None
    sharing: str = 'position'
    bn_batches: int = 4
    bn_batch_size: Optional[int] = None
    num_val: Optional[int] = None
    batch_size: Optional[int] = None

    @classmethod
    def from_config(cls, kind: str, options: Dict[str, Any],
                    cfg: Optional[Config] = None) -> 'CheapStageSettings':
        """The checked options of strategy ``kind``; ``cfg`` (the search
        config) resolves ``supernet_config`` as ``proxy_config`` is."""
        o = dict(options)
        if 'candidates' not in o:
            raise ValueError(f'strategy {kind!r} needs candidates (the '
                             'number of uniform cells it scores)')
        kw: Dict[str, Any] = dict(
            candidates=_int('strategy.candidates', o.pop('candidates'), 1))
        if 'write_every' in o:
            kw['write_every'] = _int('strategy.write_every',
                                     o.pop('write_every'), 1)
        if 'device' in o:
            device = o.pop('device')
            if not isinstance(device, str) or not device:
                raise ValueError(f'strategy.device must be a device name, '
                                 f'got {device!r}')
            kw['device'] = device
        for key in ('bn_batches', ):
            if key in o:
                kw[key] = _int(f'strategy.{key}', o.pop(key), 1)
        for key in ('bn_batch_size', 'num_val', 'batch_size'):
            if o.get(key) is not None:
                kw[key] = _int(f'strategy.{key}', o.pop(key), 1)
            o.pop(key, None)
        if kind == 'zero_cost':
            score = o.pop('score', None)
            if score is None:
                raise ValueError("strategy 'zero_cost' needs score (e.g. "
                                 "'naswot')")
            from .zero_cost import get_score  # names the known scores
            try:
                get_score(score)
            except ValueError as e:
                raise ValueError(f'strategy.score: {e}') from None
            return cls('zero_cost', score=score, **kw)
        sharing = o.pop('sharing', cls.sharing)  # the field's default
        if sharing not in SUPERNET_SHARING:
            raise ValueError(f'strategy.sharing must be one of '
                             f'{SUPERNET_SHARING}, got {sharing!r}')
        path = o.pop('supernet_config', None)
        if path is not None:
            if cfg is None:
                raise ValueError('strategy.supernet_config needs the search '
                                 'config to resolve it')
            path = resolve_config_path(cfg, 'strategy.supernet_config')
        ckpt = o.pop('supernet_checkpoint', None)
        if ckpt is not None and not (isinstance(ckpt, str)
                                     and osp.isfile(ckpt)):
            raise ValueError(f'strategy.supernet_checkpoint: no checkpoint '
                             f'at {ckpt!r}')
        return cls('one_shot', sharing=sharing, supernet_config=path,
                   supernet_cfg_options=_dict(
                       'strategy.supernet_cfg_options',
                       o.pop('supernet_cfg_options', None)),
                   supernet_checkpoint=ckpt and osp.abspath(ckpt), **kw)


@dataclass(frozen=True)
class StrategySettings:
    """The search strategy (the config's ``strategy``): the sampler's
    ``type``, its ``seed`` (``None``: the search's) and the sampler's other
    arguments (``options``); for a cheap stage (``one_shot``,
    ``zero_cost``) its settings (``cheap``), the sampler being uniform
    once its proposals are used."""
    type: str = 'random'
    seed: Optional[int] = None
    options: Dict[str, Any] = field(default_factory=dict)
    cheap: Optional[CheapStageSettings] = None

    @classmethod
    def from_config(cls, value: Any,
                    cfg: Optional[Config] = None) -> 'StrategySettings':
        strategy = _dict('strategy', value)
        kind = strategy.pop('type', 'random')
        if kind not in STRATEGIES:
            raise ValueError(f'strategy.type must be one of {STRATEGIES}, '
                             f'got {kind!r}')
        _dict(f'strategy {kind!r}', strategy, _strategy_keys(kind))
        seed = strategy.pop('seed', None)
        if seed is not None:
            _int('strategy.seed', seed, 0)
        if kind == 'evolution':
            for key in ('population_size', 'sample_size'):
                if key in strategy:
                    _int(f'strategy.{key}', strategy[key], 1)
        if kind in CHEAP_STAGES:
            return cls(kind, seed, {}, CheapStageSettings.from_config(
                kind, strategy, cfg))
        return cls(kind, seed, strategy)


def _strategy_keys(kind: str) -> Set[str]:
    """The keys a ``strategy`` of ``kind`` may set: ours, or the Optuna
    sampler's own arguments."""
    if kind in STRATEGY_KEYS:
        return STRATEGY_KEYS[kind]
    import optuna
    sampler = (optuna.samplers.TPESampler if kind == 'tpe' else
               optuna.samplers.NSGAIISampler)
    return set(inspect.signature(sampler.__init__).parameters) - {'self'}


@dataclass(frozen=True)
class PrunerSettings:
    """The config's ``pruner``: an Optuna pruner by name (see
    :data:`PRUNER_KEYS`) and its arguments, in iterations (``None``:
    Optuna's default)."""
    type: str
    min_resource: Optional[int] = None
    reduction_factor: Optional[int] = None
    min_early_stopping_rate: Optional[int] = None
    n_startup_trials: Optional[int] = None
    n_warmup_steps: Optional[int] = None
    interval_steps: Optional[int] = None

    @classmethod
    def from_config(cls, value: Any,
                    objectives: Sequence[Dict[str, str]] = ()
                    ) -> Optional['PrunerSettings']:
        """The checked ``pruner`` (``None``: no pruning). Optuna's pruners
        compare one value per step, so a multi-objective search cannot
        prune."""
        if value is None:
            return None
        if isinstance(value, cls):
            return value
        pruner = _dict('pruner', value)
        kind = pruner.pop('type', None)
        if kind not in PRUNER_KEYS:
            raise ValueError(f'pruner.type must be one of '
                             f'{sorted(PRUNER_KEYS)}, got {kind!r}')
        allowed, needed = PRUNER_KEYS[kind]
        _dict(f'pruner {kind!r}', pruner, allowed)
        missing = sorted(needed - set(pruner))
        if missing:
            raise ValueError(f'pruner {kind!r} needs {missing} (in '
                             'iterations)')
        for key, v in pruner.items():
            _int(f'pruner.{key}', v, 2 if key == 'reduction_factor' else
                 0 if key in ('min_early_stopping_rate', 'n_startup_trials',
                              'n_warmup_steps') else 1)
        if len(objectives) > 1:
            raise ValueError(
                f'pruner {kind!r} with {len(objectives)} objectives '
                f'({", ".join(o["name"] for o in objectives)}): Optuna\'s '
                'pruners are single-objective; drop the pruner or keep one '
                'objective')
        return cls(kind, **pruner)

    def options(self) -> Dict[str, int]:
        """The arguments set (the Optuna pruner's keyword arguments)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name != 'type' and getattr(self, f.name) is not None}

    def to_dict(self) -> Dict[str, Any]:
        """As configured: ``dict(type=..., **options)`` (what a trial's
        config and ``summary.json`` hold)."""
        return dict(type=self.type, **self.options())


@dataclass(frozen=True)
class FailureBudget:
    """When to stop a search whose trials keep failing: after
    ``consecutive`` trial failures in a row (in the order they finished),
    or once more than ``fraction`` of at least ``2 * consecutive`` finished
    trials failed. Trials failed because their driver died do not count."""
    consecutive: int = 5
    fraction: float = 0.5

    @classmethod
    def from_config(cls, value: Any) -> 'FailureBudget':
        d = _dict('failure_budget', value, ('consecutive', 'fraction'))
        budget = cls(**d)
        _int('failure_budget.consecutive', budget.consecutive, 1)
        f = budget.fraction
        if (isinstance(f, bool) or not isinstance(f, numbers.Real)
                or not 0 < f <= 1):
            raise ValueError('failure_budget.fraction must be in (0, 1], '
                             f'got {f!r}')
        return budget

    def spent(self, finished: int, failed: int,
              consecutive: int) -> Optional[str]:
        """Why the search must stop, given ``finished`` trials of which
        ``failed`` failed, the last ``consecutive`` in a row; ``None``
        while the budget holds."""
        if consecutive >= self.consecutive:
            return (f'the last {self.consecutive} trials failed '
                    f'(failure_budget.consecutive={self.consecutive})')
        if (finished >= 2 * self.consecutive
                and failed > self.fraction * finished):
            return (f'{failed} of {finished} trials failed '
                    f'(failure_budget.fraction={self.fraction})')
        return None


# the top-level keys of a search config that the search reads (any other
# is a typo, unless a _base_ search config defines it: see
# :mod:`.config_keys`)
SEARCH_KEYS = ('search_space', 'proxy_config', 'num_trials',
               'proxy_cfg_options', 'study_name', 'strategy', 'objectives',
               'constraints', 'trial_timeout', 'max_retries', 'seed',
               'poll_interval', 'heartbeat', 'failure_budget', 'resources',
               'threads_per_trial', 'rerank', 'pruner', 'verdict',
               'work_dir')


@dataclass
class SearchSettings:
    """Everything a search config sets, checked (see ``configs/search/``).
    Config file paths are absolute (see
    :func:`~mmseg_dpc.utils.config.resolve_config_path`)."""
    search_space: Dict[str, Any]
    proxy_config: str
    num_trials: int
    proxy_cfg_options: Dict[str, Any] = field(default_factory=dict)
    study_name: str = 'dpc-search'
    strategy: StrategySettings = field(default_factory=StrategySettings)
    objectives: List[Dict[str, str]] = field(
        default_factory=lambda: [dict(name='mIoU', direction='maximize')])
    constraints: Dict[str, Optional[int]] = field(default_factory=dict)
    trial_timeout: Optional[float] = None
    max_retries: int = 1
    seed: int = 0
    poll_interval: float = 0.5
    heartbeat_interval: int = 10
    grace_period: int = 30
    failure_budget: FailureBudget = field(default_factory=FailureBudget)
    resources: Dict[str, Any] = field(default_factory=dict)
    threads_per_trial: Optional[int] = None
    rerank: Optional[RerankSettings] = None
    pruner: Optional[PrunerSettings] = None
    verdict: Optional[VerdictSettings] = None

    @classmethod
    def from_config(cls, cfg: Config) -> 'SearchSettings':
        check_known_keys(cfg, SEARCH_KEYS)
        missing = [k for k in ('search_space', 'proxy_config', 'num_trials')
                   if k not in cfg]
        if missing:
            raise ValueError(f'search config lacks {missing}')
        hb = _dict('heartbeat', cfg.get('heartbeat'),
                   ('interval', 'grace_period'))
        interval = _int('heartbeat.interval', hb.get('interval', 10), 1)
        grace = _int('heartbeat.grace_period', hb.get('grace_period', 30),
                     1)
        if grace <= interval:
            raise ValueError(f'heartbeat.grace_period ({grace}) must be '
                             f'longer than heartbeat.interval ({interval})')
        constraints = _dict('constraints', cfg.get('constraints'),
                            CONSTRAINT_KEYS)
        for key, limit in constraints.items():
            if limit is not None:
                _int(f'constraints.{key}', limit, 1)
        study_name = cfg.get('study_name', 'dpc-search')
        if not isinstance(study_name, str) or not study_name:
            raise ValueError(f'study_name must be a non-empty string, got '
                             f'{study_name!r}')
        threads = cfg.get('threads_per_trial')
        trial_timeout = _positive('trial_timeout', cfg.get('trial_timeout'),
                                  True)
        objectives = _objectives(cfg.get('objectives', [
            dict(name='mIoU', direction='maximize')]))
        return cls(
            search_space=_dict('search_space', cfg.search_space),
            proxy_config=resolve_config_path(cfg, 'proxy_config'),
            num_trials=_int('num_trials', cfg.num_trials, 1),
            proxy_cfg_options=_dict('proxy_cfg_options',
                                    cfg.get('proxy_cfg_options')),
            study_name=study_name,
            strategy=StrategySettings.from_config(cfg.get('strategy'),
                                                  cfg),
            objectives=objectives,
            constraints=constraints,
            trial_timeout=trial_timeout,
            max_retries=_int('max_retries', cfg.get('max_retries', 1), 0),
            seed=_int('seed', cfg.get('seed', 0), 0),
            poll_interval=_positive('poll_interval',
                                    cfg.get('poll_interval', 0.5)),
            heartbeat_interval=interval, grace_period=grace,
            failure_budget=FailureBudget.from_config(
                cfg.get('failure_budget')),
            resources=_dict('resources', cfg.get('resources'),
                            ('gpus', 'cpus_per_trial', 'gpus_per_trial')),
            threads_per_trial=None if threads is None else _int(
                'threads_per_trial', threads, 1),
            rerank=RerankSettings.from_config(cfg, trial_timeout),
            pruner=PrunerSettings.from_config(cfg.get('pruner'), objectives),
            verdict=VerdictSettings.from_config(cfg))

    @property
    def sign(self) -> int:
        """+1 where a larger first objective is better, else -1."""
        return 1 if self.objectives[0]['direction'] == 'maximize' else -1


@dataclass(frozen=True)
class RerankSettings:
    """The config's ``rerank``: the ``top_k`` proxy cells trained with
    ``full_config`` (and ``cfg_options``), each from the backbone of
    ``init_from`` (``None``: from scratch), within ``timeout`` seconds
    (``rerank.timeout``, else the search's ``trial_timeout``). The
    verdict and the fidelity tool train their full-task models alike. A
    complete run in the work dir trained under other settings is trained
    again, or with ``on_changed='refuse'`` refused, naming the keys that
    differ (see :mod:`.fingerprint`)."""
    top_k: int
    full_config: str
    cfg_options: Dict[str, Any] = field(default_factory=dict)
    timeout: Optional[float] = None
    init_from: Optional[str] = None
    on_changed: str = 'retrain'

    @classmethod
    def from_config(cls, cfg: Config, trial_timeout: Optional[float] = None
                    ) -> Optional['RerankSettings']:
        rerank = cfg.get('rerank')
        if not rerank:
            return None
        rerank = _dict('rerank', rerank, ('top_k', 'full_config',
                                          'cfg_options', 'timeout',
                                          'init_from', 'on_changed'))
        on_changed = rerank.get('on_changed', 'retrain')
        if on_changed not in ON_CHANGED:
            raise ValueError(f'rerank.on_changed must be one of '
                             f'{ON_CHANGED}, got {on_changed!r}')
        for key in ('top_k', 'full_config'):
            if key not in rerank:
                raise ValueError(f'rerank lacks {key!r}')
        top_k = _int('rerank.top_k', rerank['top_k'], 1)
        full_config = resolve_config_path(cfg, 'rerank.full_config')
        options = _dict('rerank.cfg_options', rerank.get('cfg_options'))
        if options.get('load_from'):
            raise ValueError(
                'rerank.cfg_options.load_from loads the whole model, cell '
                'included, non-strictly: each searched cell would start from '
                'whatever branches of the checkpoint\'s cell fit it. Use '
                'rerank.init_from=CHECKPOINT: every re-ranked cell then '
                'starts from its backbone alone')
        init_from = rerank.get('init_from')
        if init_from is not None and not (isinstance(init_from, str)
                                          and osp.isfile(init_from)):
            raise ValueError(f'rerank.init_from: no checkpoint at '
                             f'{init_from!r}')
        timeout = (_positive('rerank.timeout', rerank['timeout'], True)
                   if 'timeout' in rerank else trial_timeout)
        return cls(top_k, full_config, options, timeout, init_from,
                   on_changed)

    @property
    def initialised(self) -> str:
        """What every full-task model starts from, in words (its records'
        ``initialised``)."""
        return (f'backbone from {self.init_from}' if self.init_from else
                'from scratch')


@dataclass(frozen=True)
class VerdictSettings:
    """The config's ``verdict``: the best re-ranked cell, the median proxy
    cell (``median_cell``) and each of ``baselines`` (name -> config path)
    trained over ``seeds`` seeds as re-ranking trains, then raced: the
    models of undecided comparisons (and the searched cell) get another
    seed each round, up to ``max_seeds`` (``None``: ``seeds``, no race).
    ``paired``: compared by seed (else Welch's test)."""
    seeds: int = 3
    median_cell: bool = True
    baselines: Dict[str, str] = field(default_factory=dict)
    paired: bool = True
    max_seeds: Optional[int] = None

    def __post_init__(self) -> None:
        if self.max_seeds is None:
            object.__setattr__(self, 'max_seeds', self.seeds)
        if self.max_seeds < self.seeds:
            raise ValueError(f'verdict.max_seeds must be >= verdict.seeds '
                             f'({self.seeds}), got {self.max_seeds}')

    @classmethod
    def from_config(cls, cfg: Config) -> Optional['VerdictSettings']:
        verdict = cfg.get('verdict')
        if not verdict:
            return None
        if not cfg.get('rerank'):
            raise ValueError('verdict needs rerank: it compares the '
                             're-ranking\'s best cell, trained as re-ranking '
                             'trains')
        verdict = _dict('verdict', verdict, ('seeds', 'median_cell',
                                             'baselines', 'paired',
                                             'max_seeds'))
        seeds = _int('verdict.seeds', verdict.get('seeds', 3), 2)
        max_seeds = verdict.get('max_seeds')
        if max_seeds is not None:
            max_seeds = _int('verdict.max_seeds', max_seeds, 2)
        median = verdict.get('median_cell', True)
        paired = verdict.get('paired', True)
        for key, value in (('median_cell', median), ('paired', paired)):
            if not isinstance(value, bool):
                raise ValueError(f'verdict.{key} must be True or False, '
                                 f'got {value!r}')
        baselines = _dict('verdict.baselines', verdict.get('baselines'))
        for name in baselines:
            if not isinstance(name, str) or not name or '.' in name:
                raise ValueError(f'verdict.baselines: {name!r} is not a name '
                                 '(a non-empty string without dots)')
        return cls(seeds, median, {
            name: resolve_config_path(cfg, f'verdict.baselines.{name}')
            for name in baselines}, paired, max_seeds)


def check_workers(workers: Optional[int], launcher: str) -> None:
    """``--workers``: ``None`` (the launcher's default) or >= 1."""
    if workers is not None:
        _int('--workers', workers, 1)
    if launcher not in ('local', 'ray'):
        raise ValueError(f'launcher must be local or ray, got {launcher!r}')


def default_storage(work_dir: str) -> str:
    return f'sqlite:///{osp.join(osp.abspath(work_dir), "study.db")}'
