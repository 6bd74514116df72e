"""Top-level keys of a search config that nothing reads: typos.

mmengine merges any key into a config, so ``num_trails = 3`` (for
``num_trials``) would run the default number of trials without a word.
A key the search does not read is an error naming the closest known one,
unless a ``_base_`` search config defines it too (a base may hold
variables of its own, e.g. to build other values from).
"""
from __future__ import annotations

import ast
import difflib
import os.path as osp
from typing import Iterable, List, Optional, Set

from mmengine.config import Config

from ..utils.config import find_config

# what mmengine itself reads or puts in a config (custom_imports registers
# a user's own search space, say)
MMENGINE_KEYS = frozenset({'_base_', '_deprecation_', 'custom_imports',
                           'default_scope'})


def _base_files(filename: str) -> List[str]:
    """The ``_base_`` files ``filename`` names (read without running it),
    as paths; relative ones next to it, ``mmseg_dpc::`` ones shipped."""
    with open(filename) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_'
                for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return []
            names = [value] if isinstance(value, str) else list(value)
            out = []
            for name in names:
                found = find_config(name, [osp.dirname(filename)])
                if found is None and '::' not in name:
                    found = osp.join(osp.dirname(filename), name)
                if found and osp.isfile(found):
                    out.append(found)
            return out
    return []


def base_keys(filename: Optional[str]) -> Set[str]:
    """Every top-level key that the ``_base_`` configs of ``filename``
    (and theirs) define."""
    if not filename or not osp.isfile(filename):
        return set()
    keys: Set[str] = set()
    for base in _base_files(filename):
        keys |= set(Config.fromfile(base).keys())
    return keys


def unknown_keys(cfg: Config, known: Iterable[str]) -> List[str]:
    """Top-level keys of ``cfg`` that are neither ``known`` nor defined by
    one of its ``_base_`` configs, each with the closest known key."""
    known = set(known) | MMENGINE_KEYS
    allowed = known | base_keys(getattr(cfg, 'filename', None))
    out = []
    for key in sorted(k for k in cfg.keys() if k not in allowed):
        close = difflib.get_close_matches(key, sorted(known), n=1)
        out.append(f'{key!r}' + (f' (did you mean {close[0]!r}?)'
                                 if close else ''))
    return out


def check_known_keys(cfg: Config, known: Iterable[str]) -> None:
    """Raise a ``ValueError`` naming every key :func:`unknown_keys`
    finds."""
    unknown = unknown_keys(cfg, known)
    if unknown:
        where = f' in {cfg.filename}' if getattr(cfg, 'filename',
                                                 None) else ''
        raise ValueError(f'unknown search config key(s){where}: '
                         f'{", ".join(unknown)}; the search reads none of '
                         'them')
