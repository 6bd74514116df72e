"""The cheap stages of ``proxy_fidelity.py --cheap STAGE ...``: each
stage scores the fidelity tool's uniform cells (as a search's cheap stage
scores its candidates: :class:`~mmseg_dpc.search.cheap_stage.CheapStage`,
in ``WORK_DIR/cheap/<stage>/``, resumable) and is compared with their
stand-alone proxy mIoU (:mod:`mmseg_dpc.analysis.cheap_fidelity`).

Stages: ``one_shot:rate_pair``, ``one_shot:position`` (``one_shot``:
both), any zero-cost score by name (``zero_cost``: all of them).
``--cheap-options`` sets the stages' strategy keys (e.g. ``bn_batches=2
num_val=32 device=cuda``), each stage taking the keys it has; the
supernet's config options go key by key
(``supernet_cfg_options.train_cfg.max_iters=600``).
"""
from __future__ import annotations

import os.path as osp
from dataclasses import replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

SHARINGS = ('rate_pair', 'position')


def stage_names(names: Sequence[str]) -> List[str]:
    """``names`` with the aliases expanded (``one_shot``, ``zero_cost``),
    repeats dropped; ``ValueError`` naming an unknown one."""
    from mmseg_dpc.search.zero_cost import score_names
    known = [f'one_shot:{s}' for s in SHARINGS] + list(score_names())
    out: List[str] = []
    for name in names:
        if name == 'one_shot':
            expanded = [f'one_shot:{s}' for s in SHARINGS]
        elif name == 'zero_cost':
            expanded = list(score_names())
        elif name in known:
            expanded = [name]
        else:
            raise ValueError(f'--cheap: unknown stage {name!r}; known: '
                             f'one_shot, zero_cost, {", ".join(known)}')
        out += [n for n in expanded if n not in out]
    return out


def nested_options(options: Mapping[str, Any]) -> Dict[str, Any]:
    """``options`` with its ``supernet_cfg_options.KEY=VALUE`` entries
    gathered into the ``supernet_cfg_options`` dict of ``KEY: VALUE``
    (dotted keys, as ``Config.merge_from_dict`` takes them): ``DictAction``
    passes no dict; ``ValueError`` naming a key with an empty part
    (``supernet_cfg_options.=9``), which mmengine would set as ``cfg['']``."""
    out: Dict[str, Any] = {}
    supernet: Dict[str, Any] = {}
    for key, value in options.items():
        head, dot, rest = key.partition('.')
        if head == 'supernet_cfg_options' and dot:
            if '' in rest.split('.'):
                raise ValueError(f'--cheap-options: {key!r} has an empty '
                                 'key; e.g. supernet_cfg_options.train_cfg.'
                                 'max_iters=600')
            supernet[rest] = value
        else:
            out[key] = value
    if supernet:
        given = out.get('supernet_cfg_options') or {}
        if not isinstance(given, Mapping):
            raise ValueError('--cheap-options: supernet_cfg_options is '
                             f'{given!r}; give its keys one by one '
                             '(supernet_cfg_options.train_cfg.max_iters=N)')
        out['supernet_cfg_options'] = {**given, **supernet}
    return out


def _stage_settings(name: str, cells: int, options: Mapping[str, Any],
                    cfg):
    from mmseg_dpc.search.settings import (STRATEGY_KEYS,
                                           CheapStageSettings,
                                           StrategySettings)
    kind = 'one_shot' if name.startswith('one_shot:') else 'zero_cost'
    mine = {k: v for k, v in options.items()
            if k in STRATEGY_KEYS[kind] and k not in ('seed', 'candidates',
                                                      'score', 'sharing')}
    strategy = dict(mine, candidates=cells)
    if kind == 'one_shot':
        strategy['sharing'] = name.split(':', 1)[1]
    else:
        strategy['score'] = name
    return StrategySettings(kind, None, {}, CheapStageSettings.from_config(
        kind, strategy, cfg))


class CheapFidelity:
    """The cheap stages to measure, checked before anything exists.

    Args:
        names: the ``--cheap`` stages.
        options: ``--cheap-options``.
        settings: the search settings.
        cfg: the search config.
        space: the search space.
        proxy: the proxy base config.
        cells: how many cells the tool samples.
        work_dir: the fidelity tool's work dir.
    """

    def __init__(self, names: Sequence[str], options: Optional[Dict],
                 settings, cfg, space, proxy, cells: int,
                 work_dir: str) -> None:
        from mmseg_dpc.feature_cache import check_proxy_cache
        from mmseg_dpc.search.cheap_stage import CheapStage
        from mmseg_dpc.search.cost import proxy_head_cost
        from mmseg_dpc.search.settings import STRATEGY_KEYS
        options = nested_options(options or {})
        allowed = STRATEGY_KEYS['one_shot'] | STRATEGY_KEYS['zero_cost']
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise ValueError(f'--cheap-options: unknown keys {unknown} '
                             f'(known: {sorted(allowed)})')
        cost = proxy_head_cost(proxy, check_proxy_cache(proxy))
        self.work_dir = work_dir
        self.stages: List[Tuple[str, Any]] = []
        for name in stage_names(names):
            st = replace(settings, num_trials=1, strategy=_stage_settings(
                name, cells, options, cfg))
            self.stages.append((name, CheapStage(
                st, space, proxy, cost,
                osp.join(work_dir, 'cheap', name.replace(':', '-')))))

    def measure(self, launcher, cells: Sequence, proxy_miou: Mapping,
                seeds: int, poll_interval: float = 0.5) -> Dict[str, Any]:
        """Score ``cells`` by every stage (training the supernets through
        ``launcher``) and compare with ``proxy_miou`` (``{(hash, seed):
        mIoU}``) on the cells every proxy seed trained; writes the
        files of :func:`~mmseg_dpc.analysis.cheap_fidelity.\
write_cheap_fidelity` and returns its summary."""
        from mmseg_dpc.analysis.cheap_fidelity import (stage_fidelity,
                                                       write_cheap_fidelity)
        ok = [c for c in cells
              if all((c.hash, s) in proxy_miou for s in range(seeds))]
        if len(ok) < 3:
            raise ValueError(f'only {len(ok)} cells trained on the proxy '
                             'with every seed')
        proxy = np.array([[proxy_miou[(c.hash, s)] for s in range(seeds)]
                          for c in ok], dtype=float)
        results, per_cell = [], {c.hash: dict(arch_hash=c.hash,
                                              arch=c.to_json(),
                                              proxy=list(map(float, row)))
                                 for c, row in zip(ok, proxy)}
        for name, stage in self.stages:
            scores = stage.scores(launcher, poll_interval, ok)
            seconds = stage.supernet_seconds() + sum(s.seconds
                                                     for s in scores)
            results.append(stage_fidelity(name, proxy,
                                          [s.score for s in scores],
                                          seconds))
            for s in scores:
                per_cell[s.hash][name] = s.score if s.finite else None
        return write_cheap_fidelity(self.work_dir, proxy,
                                    [per_cell[c.hash] for c in ok], results)
