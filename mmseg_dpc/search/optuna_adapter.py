"""Let Optuna samplers drive the DPC search space.

Each branch becomes two categorical parameters with fixed choices,
``b{i}_input`` (``-1 .. i-1``) and ``b{i}_op`` (one of the space's
operations by name, e.g. ``sep3x3_r1x6``), so any sampler that handles
categorical parameters searches it: RandomSampler samples exactly as the
paper (uniform over cells), TPESampler and NSGAIISampler learn per branch.
"""
from __future__ import annotations

from typing import Dict, List

from ..models.utils.cell_spec import CONV1X1, SEP_CONV3X3, Branch
from .architecture import Architecture
from .space import DPCSearchSpace


def op_name(op: str, rate=None, grid=None) -> str:
    if op == CONV1X1:
        return 'conv1x1'
    if op == SEP_CONV3X3:
        return f'sep3x3_r{rate[0]}x{rate[1]}'
    return f'pool_{grid[0]}x{grid[1]}'


def describe_cell(arch: Architecture) -> str:
    """The cell in words, with the parameters' operation names, e.g.
    ``sep3x3_r1x6<-in, conv1x1<-0``."""
    return ', '.join(f'{op_name(b.op, b.rate, b.grid)}<-'
                     f'{"in" if b.input < 0 else b.input}'
                     for b in arch.branches)


class OptunaSpaceAdapter:
    """Maps between a :class:`DPCSearchSpace` and Optuna trial parameters."""

    def __init__(self, space: DPCSearchSpace) -> None:
        self.space = space
        self.op_names: List[str] = [op_name(*o) for o in space.operations]
        self._op_index = {n: i for i, n in enumerate(self.op_names)}

    def suggest(self, trial) -> Architecture:
        """Ask ``trial`` for one architecture."""
        branches = []
        for i in range(self.space.num_branches):
            inp = trial.suggest_categorical(f'b{i}_input',
                                            list(range(-1, i)))
            op = trial.suggest_categorical(f'b{i}_op', self.op_names)
            branches.append(self.space.branch(inp, self._op_index[op]))
        return Architecture(tuple(branches))

    def params(self, arch: Architecture) -> Dict[str, object]:
        """Trial parameters of ``arch`` as listed (for ``enqueue_trial``)."""
        arch = self.space.architecture(arch.branches)
        out: Dict[str, object] = {}
        for i, b in enumerate(arch.branches):
            out[f'b{i}_input'] = b.input
            out[f'b{i}_op'] = op_name(b.op, b.rate, b.grid)
        return out

    def from_params(self, params: Dict[str, object]) -> Architecture:
        """The architecture a finished trial's ``params`` describe."""
        branches = []
        for i in range(self.space.num_branches):
            try:
                inp, op = params[f'b{i}_input'], params[f'b{i}_op']
            except KeyError as e:
                raise ValueError(f'trial params lack {e.args[0]!r}') from e
            if op not in self._op_index:
                raise ValueError(f'branch {i}: op {op!r} is not in the space')
            branches.append(self.space.branch(inp, self._op_index[op]))
        return self.space.architecture(
            tuple(Branch(b.op, b.input, b.rate, b.grid) for b in branches))

    def distributions(self) -> dict:
        """Optuna distributions of all parameters (for ``create_trial``)."""
        from optuna.distributions import CategoricalDistribution
        out = {}
        for i in range(self.space.num_branches):
            out[f'b{i}_input'] = CategoricalDistribution(list(range(-1, i)))
            out[f'b{i}_op'] = CategoricalDistribution(self.op_names)
        return out
