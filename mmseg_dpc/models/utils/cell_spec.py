"""Dense Prediction Cell architecture specs: parsing, validation, JSON.

A cell is a tuple of :class:`Branch`. Each branch reads one input (``-1`` is the
backbone feature F, ``k >= 0`` the output of branch ``k``) and applies one
operation. The dict format is the one of the TensorFlow reference
(``dense_prediction_cell_branch5_top1_cityscapes.json``)::

    {"op": "conv", "kernel": 3, "rate": [1, 6], "input": -1}       # sep. conv
    {"op": "conv", "kernel": 1, "input": 0}                         # 1x1 conv
    {"op": "pyramid_pooling", "grid_size": [2, 4], "input": 1}      # avg pool

so that released cells load as they are.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple, Union

#: Atrous rates of the paper's space (defined at output stride 16).
PAPER_RATES: Tuple[int, ...] = (1, 3, 6, 9, 12, 15, 18, 21)
#: Pyramid pooling grid sizes of the paper's space.
PAPER_GRIDS: Tuple[int, ...] = (1, 2, 4, 8)
#: Operation names used inside this package.
CONV1X1 = 'conv1x1'
SEP_CONV3X3 = 'sep_conv3x3'
PYRAMID_POOLING = 'pyramid_pooling'
OPS: Tuple[str, ...] = (CONV1X1, SEP_CONV3X3, PYRAMID_POOLING)

#: The released top-1 Cityscapes cell of Chen et al. (2018).
TOP1_CITYSCAPES = [
    {'kernel': 3, 'rate': [1, 6], 'op': 'conv', 'input': -1},
    {'kernel': 3, 'rate': [18, 15], 'op': 'conv', 'input': 0},
    {'kernel': 3, 'rate': [6, 3], 'op': 'conv', 'input': 1},
    {'kernel': 3, 'rate': [1, 1], 'op': 'conv', 'input': 0},
    {'kernel': 3, 'rate': [6, 21], 'op': 'conv', 'input': 0},
]

Pair = Tuple[int, int]
CellLike = Union[str, os.PathLike, Sequence[Mapping[str, Any]],
                 Sequence['Branch']]


@dataclass(frozen=True, order=True)
class Branch:
    """One branch of a cell: ``Y = op(X_input)``.

    ``rate`` is set for ``sep_conv3x3`` only, ``grid`` for ``pyramid_pooling``
    only; both are ``(height, width)`` pairs.
    """
    op: str
    input: int
    rate: Optional[Pair] = None
    grid: Optional[Pair] = None

    def to_dict(self) -> dict:
        """The reference JSON form of this branch."""
        if self.op == CONV1X1:
            return {'op': 'conv', 'kernel': 1, 'input': self.input}
        if self.op == SEP_CONV3X3:
            return {'op': 'conv', 'kernel': 3, 'rate': list(self.rate),
                    'input': self.input}
        return {'op': 'pyramid_pooling', 'grid_size': list(self.grid),
                'input': self.input}

    def describe(self) -> str:
        """Short human-readable label, e.g. ``sep3x3 r1x6`` or ``pool 2x4``."""
        if self.op == CONV1X1:
            return 'conv1x1'
        if self.op == SEP_CONV3X3:
            return f'sep3x3 r{self.rate[0]}x{self.rate[1]}'
        return f'pool {self.grid[0]}x{self.grid[1]}'


def _err(index: int, field: str, msg: str) -> ValueError:
    return ValueError(f'DPC spec: branch {index}: field {field!r}: {msg}')


def _pair(value: Any, index: int, field: str,
          allowed: Optional[Iterable[int]]) -> Pair:
    """An ``(h, w)`` pair from an int or a 2-list; ``allowed=None`` admits
    any positive int."""
    if isinstance(value, bool):
        raise _err(index, field, f'expected an int or [h, w], got {value!r}')
    if isinstance(value, int):
        value = [value, value]
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool)
                       for v in value)):
        raise _err(index, field, f'expected an int or [h, w], got {value!r}')
    for v in value:
        if allowed is None and v < 1:
            raise _err(index, field, f'{v} is not a positive integer')
        if allowed is not None and v not in allowed:
            raise _err(index, field,
                       f'{v} is outside the space {sorted(allowed)}')
    return (value[0], value[1])


def parse_branch(index: int, raw: Any,
                 rates: Optional[Iterable[int]] = PAPER_RATES,
                 grids: Optional[Iterable[int]] = PAPER_GRIDS) -> Branch:
    """Validate one branch dict (reference format) into a :class:`Branch`.
    ``rates``/``grids`` are the allowed values; ``None`` admits any positive
    int."""
    if isinstance(raw, Branch):
        raw = raw.to_dict()
    if not isinstance(raw, Mapping):
        raise ValueError(f'DPC spec: branch {index}: expected a dict, '
                         f'got {type(raw).__name__}')
    for field in ('op', 'input'):
        if field not in raw:
            raise _err(index, field, 'missing')
    inp = raw['input']
    if isinstance(inp, bool) or not isinstance(inp, int):
        raise _err(index, 'input', f'expected an int, got {inp!r}')
    if not -1 <= inp < index:
        raise _err(index, 'input',
                   f'{inp} must be -1 (backbone feature) or the index of an '
                   f'earlier branch (0..{index - 1})')
    op = raw['op']
    if op == 'conv':
        allowed_keys = {'op', 'input', 'kernel', 'rate'}
        if 'kernel' not in raw:
            raise _err(index, 'kernel', 'missing (1 or 3 for op "conv")')
        kernel = raw['kernel']
        if kernel == 1:
            if 'rate' in raw and _pair(raw['rate'], index, 'rate',
                                       (1, )) != (1, 1):
                raise _err(index, 'rate', 'a 1x1 conv takes no rate')
            branch = Branch(CONV1X1, inp)
        elif kernel == 3:
            if 'rate' not in raw:
                raise _err(index, 'rate', 'missing (required for kernel 3)')
            branch = Branch(SEP_CONV3X3, inp,
                            rate=_pair(raw['rate'], index, 'rate', rates))
        else:
            raise _err(index, 'kernel', f'{kernel!r} is not 1 or 3')
    elif op == 'pyramid_pooling':
        allowed_keys = {'op', 'input', 'grid_size'}
        if 'grid_size' not in raw:
            raise _err(index, 'grid_size', 'missing')
        branch = Branch(PYRAMID_POOLING, inp,
                        grid=_pair(raw['grid_size'], index, 'grid_size',
                                   grids))
    else:
        raise _err(index, 'op',
                   f'unknown operation {op!r} (expected "conv" or '
                   f'"pyramid_pooling")')
    unknown = set(raw) - allowed_keys
    if unknown:
        raise _err(index, sorted(unknown)[0],
                   f'unknown field for op {op!r}')
    return branch


def parse_cell(spec: CellLike,
               rates: Optional[Iterable[int]] = PAPER_RATES,
               grids: Optional[Iterable[int]] = PAPER_GRIDS
               ) -> Tuple[Branch, ...]:
    """Validate a cell given as a JSON file path, JSON text's list, or
    branches, and return it as a tuple of :class:`Branch`.

    Raises:
        ValueError: naming the branch index and the field that is wrong.
    """
    if isinstance(spec, (str, os.PathLike)):
        path = os.fspath(spec)
        try:
            with open(path) as f:
                spec = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'DPC spec: {path} is not valid JSON: {e}') from e
    if not isinstance(spec, (list, tuple)):
        raise ValueError('DPC spec: expected a list of branches, got '
                         f'{type(spec).__name__}')
    if len(spec) == 0:
        raise ValueError('DPC spec: the cell is empty (it needs at least one '
                         'branch)')
    rates = None if rates is None else tuple(rates)
    grids = None if grids is None else tuple(grids)
    return tuple(
        parse_branch(i, b, rates, grids) for i, b in enumerate(spec))


def cell_to_json(cell: Sequence[Branch]) -> str:
    """Serialise a cell in the reference JSON format."""
    return json.dumps([b.to_dict() for b in cell])
