"""The DPC search space (Chen et al. 2018, Sec. 3.2), narrowable and
widenable, as a component of the ``SEARCH_SPACES`` registry."""
from __future__ import annotations

import math
import random
from typing import Iterator, List, Optional, Sequence, Tuple, Union

from ..models.utils.cell_spec import (CONV1X1, OPS, PAPER_GRIDS, PAPER_RATES,
                                      PYRAMID_POOLING, SEP_CONV3X3, Branch)
from ..registry import SEARCH_SPACES
from .architecture import Architecture

Op = Tuple[str, Optional[Tuple[int, int]], Optional[Tuple[int, int]]]
RngLike = Union[int, random.Random, None]


def _rng(rng: RngLike) -> random.Random:
    """Python's Mersenne Twister: the same seed gives the same sequence on
    every platform and Python 3 version."""
    return rng if isinstance(rng, random.Random) else random.Random(rng)


def _check_values(name: str, values: Sequence[int]) -> Tuple[int, ...]:
    values = tuple(values)
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 1
           for v in values):
        raise ValueError(f'DPCSearchSpace: {name} must be positive ints, got '
                         f'{values}')
    if len(set(values)) != len(values):
        dup = sorted({v for v in values if values.count(v) > 1})
        raise ValueError(f'DPCSearchSpace: {name} has duplicate values {dup}')
    return values


@SEARCH_SPACES.register_module()
class DPCSearchSpace:
    """All cells of ``num_branches`` branches over the given operations.

    Branch i reads F or any earlier branch (i + 1 choices) and applies one of
    ``num_ops`` operations: a 1x1 conv, a 3x3 separable conv for every
    ``(r_h, r_w)`` in ``rates x rates``, or pyramid pooling for every
    ``(g_h, g_w)`` in ``grids x grids``. The defaults are the paper's: 81
    operations and ``5! * 81**5`` (about 4.2e11) cells.

    Sampling is uniform over cells as listed (the paper's count); equivalent
    listings are one :class:`Architecture` (see its docs), so an
    architecture's probability is proportional to its number of listings.
    """

    def __init__(self,
                 num_branches: int = 5,
                 rates: Sequence[int] = PAPER_RATES,
                 grids: Sequence[int] = PAPER_GRIDS,
                 ops: Sequence[str] = OPS,
                 **unknown) -> None:
        if unknown:
            raise ValueError(f'DPCSearchSpace: unknown keys '
                             f'{sorted(unknown)}; expected num_branches, '
                             f'rates, grids, ops')
        if (isinstance(num_branches, bool) or not isinstance(num_branches, int)
                or num_branches < 1):
            raise ValueError(f'DPCSearchSpace: num_branches must be an int '
                             f'>= 1, got {num_branches!r}')
        ops = tuple(ops)
        if not ops:
            raise ValueError('DPCSearchSpace: ops is empty')
        bad = [o for o in ops if o not in OPS]
        if bad:
            raise ValueError(f'DPCSearchSpace: unknown ops {bad}; expected '
                             f'some of {list(OPS)}')
        if len(set(ops)) != len(ops):
            raise ValueError(f'DPCSearchSpace: ops has duplicates: {ops}')
        self.num_branches = num_branches
        self.ops = ops
        self.rates = _check_values('rates', rates)
        self.grids = _check_values('grids', grids)
        if SEP_CONV3X3 in ops and not self.rates:
            raise ValueError('DPCSearchSpace: rates is empty but ops has '
                             'sep_conv3x3')
        if PYRAMID_POOLING in ops and not self.grids:
            raise ValueError('DPCSearchSpace: grids is empty but ops has '
                             'pyramid_pooling')
        self.operations: List[Op] = self._enumerate_operations()

    def _enumerate_operations(self) -> List[Op]:
        out: List[Op] = []
        if CONV1X1 in self.ops:
            out.append((CONV1X1, None, None))
        if SEP_CONV3X3 in self.ops:
            out += [(SEP_CONV3X3, (h, w), None) for h in self.rates
                    for w in self.rates]
        if PYRAMID_POOLING in self.ops:
            out += [(PYRAMID_POOLING, None, (h, w)) for h in self.grids
                    for w in self.grids]
        return out

    def __repr__(self) -> str:
        return (f'DPCSearchSpace(num_branches={self.num_branches}, '
                f'rates={self.rates}, grids={self.grids}, ops={self.ops})')

    # --- size and membership --------------------------------------------
    @property
    def num_ops(self) -> int:
        """Operations per branch (81 for the paper's space)."""
        return len(self.operations)

    @property
    def size(self) -> int:
        """Number of cells: ``B! * num_ops**B`` (exact integer)."""
        return math.factorial(self.num_branches) * self.num_ops**self.num_branches

    def architecture(self, cell) -> Architecture:
        """Validate ``cell`` against this space and wrap it."""
        arch = Architecture(cell, rates=self.rates, grids=self.grids)
        if arch.num_branches != self.num_branches:
            raise ValueError(f'DPCSearchSpace: the cell has '
                             f'{arch.num_branches} branches, the space '
                             f'{self.num_branches}')
        for i, b in enumerate(arch.branches):
            if b.op not in self.ops:
                raise ValueError(f'DPC spec: branch {i}: field \'op\': '
                                 f'{b.op} is not in this space {self.ops}')
        return arch

    def __contains__(self, arch: Architecture) -> bool:
        try:
            self.architecture(arch.branches)
        except ValueError:
            return False
        return True

    # --- sampling -------------------------------------------------------
    def branch(self, input: int, op_index: int) -> Branch:
        """The branch reading ``input`` with operation ``op_index``."""
        op, rate, grid = self.operations[op_index]
        return Branch(op, input, rate, grid)

    def sample(self, rng: RngLike = None) -> Architecture:
        """One cell, uniformly over the space (seeded or ``random.Random``)."""
        rng = _rng(rng)
        return Architecture(
            tuple(self.branch(rng.randrange(i + 1) - 1,
                              rng.randrange(self.num_ops))
                  for i in range(self.num_branches)))

    def samples(self, n: int, seed: int = 0) -> Iterator[Architecture]:
        """``n`` cells from one seeded stream (same seed, same sequence)."""
        rng = _rng(seed)
        for _ in range(n):
            yield self.sample(rng)

    # --- mutation (regularized evolution) ---------------------------------
    def mutations(self, arch: Architecture) -> List[Tuple[int, str]]:
        """``(branch, kind)`` pairs that can change ``arch``; kinds are
        ``op`` (another operation type), ``rate``, ``grid`` and ``input``."""
        types = {o for o, _, _ in self.operations}
        out = []
        for i, b in enumerate(arch.branches):
            if len(types) > 1:
                out.append((i, 'op'))
            if b.op == SEP_CONV3X3 and len(self.rates) > 1:
                out.append((i, 'rate'))
            if b.op == PYRAMID_POOLING and len(self.grids) > 1:
                out.append((i, 'grid'))
            if i > 0:
                out.append((i, 'input'))
        return out

    def mutate(self, arch: Architecture, rng: RngLike = None) -> Architecture:
        """Change one branch's operation type, one of its rates or grid sizes,
        or its input; the child differs from ``arch`` as listed and stays in
        the space."""
        rng = _rng(rng)
        choices = self.mutations(arch)
        if not choices:
            raise ValueError(f'{self!r} has a single cell: nothing to mutate')
        i, kind = choices[rng.randrange(len(choices))]
        b = arch.branches[i]
        if kind == 'input':
            new_input = rng.choice([k for k in range(-1, i) if k != b.input])
            new = Branch(b.op, new_input, b.rate, b.grid)
        elif kind == 'op':
            options = [k for k, (o, _, _) in enumerate(self.operations)
                       if o != b.op]
            new = self.branch(b.input, rng.choice(options))
        else:
            values = self.rates if kind == 'rate' else self.grids
            pair = list(b.rate if kind == 'rate' else b.grid)
            axis = rng.randrange(2)
            pair[axis] = rng.choice([v for v in values if v != pair[axis]])
            new = Branch(b.op, b.input,
                         tuple(pair) if kind == 'rate' else None,
                         tuple(pair) if kind == 'grid' else None)
        branches = list(arch.branches)
        branches[i] = new
        return Architecture(tuple(branches))
