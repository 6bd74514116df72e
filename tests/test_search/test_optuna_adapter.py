import optuna
import pytest

from mmseg_dpc.models.utils import TOP1_CITYSCAPES
from mmseg_dpc.search import (Architecture, DPCSearchSpace, OptunaSpaceAdapter,
                              cell_cost)

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize('sampler, multi', [
    (lambda: optuna.samplers.RandomSampler(seed=0), False),
    (lambda: optuna.samplers.TPESampler(seed=0, n_startup_trials=5), False),
    (lambda: optuna.samplers.NSGAIISampler(seed=0, population_size=6), True),
], ids=['random', 'tpe', 'nsga2'])
def test_round_trip_through_each_sampler(sampler, multi):
    space = DPCSearchSpace()
    adapter = OptunaSpaceAdapter(space)
    seen = {}

    def objective(trial):
        arch = adapter.suggest(trial)
        assert arch in space
        seen[trial.number] = arch.to_json()
        cost = cell_cost(arch.branches, 320, (33, 33))
        score = sum(b.rate[0] if b.rate else 0 for b in arch.branches)
        return (score, cost.flops) if multi else score

    study = optuna.create_study(
        sampler=sampler(),
        directions=['maximize', 'minimize'] if multi else ['maximize'])
    study.optimize(objective, n_trials=15)
    assert len(study.trials) == 15
    for t in study.trials:
        assert adapter.from_params(t.params).to_json() == seen[t.number]
    assert len(set(seen.values())) > 5  # the sampler explores


def test_enqueue_known_architecture():
    space = DPCSearchSpace()
    adapter = OptunaSpaceAdapter(space)
    released = Architecture(TOP1_CITYSCAPES)
    study = optuna.create_study()
    study.enqueue_trial(adapter.params(released))
    got = []
    study.optimize(lambda t: got.append(adapter.suggest(t)) or 0.0,
                   n_trials=1)
    assert got[0].branches == released.branches
    assert adapter.from_params(study.trials[0].params) == released


def test_random_sampler_is_uniform_over_ops():
    """RandomSampler draws each op uniformly over the space's 81 ops, as
    the paper's random search."""
    space = DPCSearchSpace(num_branches=1)
    adapter = OptunaSpaceAdapter(space)
    assert len(adapter.op_names) == len(set(adapter.op_names)) == 81
    assert set(adapter.distributions()) == {'b0_input', 'b0_op'}


def test_bad_params_rejected():
    adapter = OptunaSpaceAdapter(DPCSearchSpace(num_branches=1))
    with pytest.raises(ValueError, match="lack 'b0_op'"):
        adapter.from_params({'b0_input': -1})
    with pytest.raises(ValueError, match="op 'sep3x3_r2x2' is not"):
        adapter.from_params({'b0_input': -1, 'b0_op': 'sep3x3_r2x2'})
