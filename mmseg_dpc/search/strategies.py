"""Search strategies as Optuna samplers.

``random`` (the paper's: uniform over cells), ``evolution`` (regularized
evolution, below), ``tpe`` and ``nsga2`` (Optuna's own), each built from
the search config's checked ``strategy``; ``one_shot`` and ``zero_cost``
propose their cheap stage's best cells first (:mod:`.cheap_stage`) and
sample uniformly after.
"""
from __future__ import annotations

import random
from typing import Any, Callable, Dict, List, Optional

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from .optuna_adapter import OptunaSpaceAdapter
from .record import is_retry
from .settings import CHEAP_STAGES, StrategySettings
from .space import DPCSearchSpace
from .study_view import Member


class RegularizedEvolutionSampler(BaseSampler):
    """Regularized evolution (Real et al. 2019) over a DPC search space.

    The first ``population_size`` cells are uniform; after that each trial
    is a mutation (:meth:`DPCSearchSpace.mutate`) of the winner of a
    tournament between ``sample_size`` trials drawn from the youngest
    ``population_size`` complete ones, so old cells age out. Retried
    trials keep their cell.
    """

    def __init__(self, space: DPCSearchSpace, population_size: int = 20,
                 sample_size: int = 5, seed: Optional[int] = None) -> None:
        self.space = space
        self.adapter = OptunaSpaceAdapter(space)
        self.population_size = population_size
        self.sample_size = sample_size
        self._random = RandomSampler(seed=seed)
        self._rng = random.Random(seed)
        self._population: Optional[Callable[[int], List[Member]]] = None

    def population_from(self, youngest: Callable[[int], List[Member]]
                        ) -> None:
        """Take the population from ``youngest(n)`` (the ledger's mirror of
        the study: the ``n`` youngest complete trials) instead of reading
        every complete trial of the study for each sample, which costs
        O(N) per trial at N trials."""
        self._population = youngest

    def reseed_rng(self) -> None:
        self._random.reseed_rng()
        self._rng = random.Random()

    def infer_relative_search_space(
            self, study: Study, trial: FrozenTrial
    ) -> Dict[str, BaseDistribution]:
        return self.adapter.distributions()

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: Dict[str, BaseDistribution]
                        ) -> Dict[str, Any]:
        if is_retry(trial):  # its own cell
            return {}
        population = self._youngest(study)
        if len(population) < self.population_size:
            return {}  # the initial population is uniform
        contenders = self._rng.sample(
            population, min(self.sample_size, len(population)))
        sign = 1 if study.directions[0] == StudyDirection.MAXIMIZE else -1
        parent = max(contenders, key=lambda t: sign * t.values[0])
        child = self.space.mutate(self.adapter.from_params(parent.params),
                                  self._rng)
        return self.adapter.params(child)

    def _youngest(self, study: Study) -> List[Member]:
        """The youngest ``population_size`` complete trials (by start)."""
        if self._population is not None:
            return self._population(self.population_size)
        done = study.get_trials(deepcopy=False,
                                states=(TrialState.COMPLETE, ))
        young = sorted(done, key=_start_order)[-self.population_size:]
        return [Member(t.number, t.params, tuple(t.values)) for t in young]

    def sample_independent(self, study: Study, trial: FrozenTrial,
                           param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._random.sample_independent(study, trial, param_name,
                                               param_distribution)


def _start_order(t: FrozenTrial):
    return (t.datetime_start.timestamp() if t.datetime_start else 0.0,
            t.number)


def build_sampler(strategy: StrategySettings, space: DPCSearchSpace,
                  seed: int = 0) -> BaseSampler:
    """The sampler of the checked ``strategy``; ``seed`` unless it sets
    one."""
    kind, kw = strategy.type, dict(strategy.options)
    seed = seed if strategy.seed is None else strategy.seed
    if kind == 'random' or kind in CHEAP_STAGES:
        # a cheap stage's cells are enqueued (see .cheap_stage); once they
        # are used, sampling is uniform
        return RandomSampler(seed=seed)
    if kind == 'evolution':
        return RegularizedEvolutionSampler(space, seed=seed, **kw)
    cls = (optuna.samplers.TPESampler if kind == 'tpe' else
           optuna.samplers.NSGAIISampler)
    try:
        return cls(seed=seed, **kw)
    except TypeError as e:
        raise ValueError(f'strategy {kind!r}: {e}') from e
