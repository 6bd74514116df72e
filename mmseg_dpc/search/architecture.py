"""A sampled DPC architecture as a value object.

A cell is a tree rooted at the backbone feature F: every branch reads exactly
one input. Two specs that differ only in the order their branches are listed
(with inputs renumbered to match) compute the same family of functions: the
concatenation order only permutes the projection's input channels. They are
therefore **one architecture**: equality, hashing and the short hash use the
canonical form, in which siblings are sorted by their canonical subtree and
branches are numbered in pre-order. The listed order is kept for JSON round
trips, so a released cell serialises back exactly as it was.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List, Sequence, Tuple

from ..models.utils.cell_spec import (PAPER_GRIDS, PAPER_RATES, Branch,
                                      CellLike, cell_to_json, parse_cell)


def _canonical(branches: Sequence[Branch]) -> Tuple[Branch, ...]:
    children: Dict[int, List[int]] = {}
    for i, b in enumerate(branches):
        children.setdefault(b.input, []).append(i)

    sig: Dict[int, str] = {}

    def signature(i: int) -> str:
        if i not in sig:
            b = branches[i]
            kids = sorted(signature(c) for c in children.get(i, []))
            sig[i] = (f'{b.op}:{b.rate}:{b.grid}(' + ','.join(kids) + ')')
        return sig[i]

    order: List[int] = []

    def visit(parent: int) -> None:
        for c in sorted(children.get(parent, []), key=signature):
            order.append(c)
            visit(c)

    visit(-1)
    new_index = {old: new for new, old in enumerate(order)}
    new_index[-1] = -1
    return tuple(
        Branch(branches[o].op, new_index[branches[o].input], branches[o].rate,
               branches[o].grid) for o in order)


class Architecture:
    """An immutable DPC cell with a canonical identity.

    Args:
        cell: anything :func:`parse_cell` accepts (reference dicts, a JSON
            file path, :class:`Branch` objects).
        rates, grids: allowed values to validate against; by default any
            positive int (the value object also holds cells of widened
            spaces; the search space validates against its own sets).
    """
    __slots__ = ('branches', 'canonical_branches', '_hash')

    def __init__(self, cell: CellLike, rates=None, grids=None) -> None:
        branches = parse_cell(cell, rates, grids)
        object.__setattr__(self, 'branches', branches)
        object.__setattr__(self, 'canonical_branches', _canonical(branches))
        digest = hashlib.sha1(
            json.dumps([b.to_dict() for b in self.canonical_branches],
                       sort_keys=True).encode()).hexdigest()
        object.__setattr__(self, '_hash', digest[:10])

    def __setattr__(self, name, value):
        raise AttributeError('Architecture is immutable')

    @property
    def hash(self) -> str:
        """Stable 10-hex-digit id of the canonical form (file/trial names)."""
        return self._hash

    @property
    def num_branches(self) -> int:
        return len(self.branches)

    def canonical(self) -> 'Architecture':
        """The same architecture, listed in canonical order."""
        return Architecture(self.canonical_branches)

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, Architecture)
                and self.canonical_branches == other.canonical_branches)

    def __hash__(self) -> int:
        return hash(self.canonical_branches)

    def __repr__(self) -> str:
        desc = ', '.join(f'{b.describe()}<-{b.input}' for b in self.branches)
        return f'Architecture({self.hash}: {desc})'

    # --- serialisation -------------------------------------------------
    def to_list(self) -> List[dict]:
        """Reference-format branch dicts, in listed order."""
        return [b.to_dict() for b in self.branches]

    def to_json(self) -> str:
        """The reference JSON format, in listed order."""
        return cell_to_json(self.branches)

    @classmethod
    def from_json(cls, text: str, **kwargs) -> 'Architecture':
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f'Architecture: invalid JSON: {e}') from e
        return cls(spec, **kwargs)

    def head_config(self, **overrides) -> dict:
        """A ``DPCHead`` config dict for an mmseg model config; rates/grids
        outside the paper's space are passed along so the head accepts
        them."""
        cfg: Dict[str, Any] = dict(type='DPCHead', arch=self.to_list())
        rates = {r for b in self.branches if b.rate for r in b.rate}
        grids = {g for b in self.branches if b.grid for g in b.grid}
        if not rates <= set(PAPER_RATES):
            cfg['rates'] = sorted(rates | set(PAPER_RATES))
        if not grids <= set(PAPER_GRIDS):
            cfg['grids'] = sorted(grids | set(PAPER_GRIDS))
        cfg.update(overrides)
        return cfg

