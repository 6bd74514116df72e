"""The DPC search: the space, its cells and their cost, and the search
machinery (study, trials, records, re-ranking, verdict).

Names load on first use, so that importing a leaf such as
:mod:`.processes` (the fork server's plumbing) imports nothing heavy.
"""
import importlib
from typing import Any

_EXPORTS = {
    'Architecture': 'architecture',
    'Cost': 'cost',
    'DPCSearchSpace': 'space',
    'OptunaSpaceAdapter': 'optuna_adapter',
    'cell_cost': 'cost',
    'head_cost': 'cost',
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f'.{_EXPORTS[name]}', __name__)
        return getattr(module, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = sorted(_EXPORTS)
