"""Where config files are: the shipped configs (in the clone's
``configs/``, or the installed package's ``.mim/configs`` as OpenMMLab
packages ship theirs) and the config paths a config names."""
from __future__ import annotations

import os
import os.path as osp
from typing import Any, List, Optional

from mmengine.config import Config
from mmengine.config.utils import MODULE2PACKAGE

PACKAGE = 'mmseg_dpc'
# what names a shipped config, as mmengine's ``package::`` syntax does
PACKAGE_PREFIX = PACKAGE + '::'
SHIPPED_PREFIX = 'configs' + os.sep
# mmengine resolves ``_base_ = 'mmseg_dpc::dpc/x.py'`` in the installed
# package's .mim/configs once it knows the module's distribution
MODULE2PACKAGE.setdefault(PACKAGE, 'mmseg-dpc')


def in_mmseg_scope(cfg: Config) -> Config:
    """``cfg`` built in mmseg's registry scope where mmengine gave it ours.

    mmengine gives the components a config takes from a ``_base_`` named
    ``mmseg_dpc::...`` that package's scope (``_scope_``, and
    ``default_scope``); our modules register in mmseg's own registries
    (``DPCHead`` is an mmseg ``MODELS`` entry), so they build in scope
    ``mmseg``, as the shipped configs do."""
    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get('_scope_') == PACKAGE:
                value['_scope_'] = 'mmseg'
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    if cfg.get('default_scope') == PACKAGE:
        cfg.default_scope = 'mmseg'
    for value in cfg.values():
        walk(value)
    return cfg


def shipped_configs_dir() -> str:
    """The shipped configs: ``mmseg_dpc/.mim/configs`` (a wheel's copy, or
    the clone's link to its ``configs/``)."""
    return osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim',
                    'configs')


def shipped_config(name: str) -> str:
    """The path of shipped config ``name`` (``dpc/x.py``, ``configs/dpc/x.py``
    or ``mmseg_dpc::dpc/x.py``); raises ``FileNotFoundError`` naming it."""
    rel = _shipped_name(name) or name
    path = osp.join(shipped_configs_dir(), rel)
    if not osp.isfile(path):
        raise FileNotFoundError(f'no shipped config {name!r} (looked for '
                                f'{path})')
    return path


def _shipped_name(path: str) -> Optional[str]:
    if path.startswith(PACKAGE_PREFIX):
        return path[len(PACKAGE_PREFIX):]
    if path.startswith(SHIPPED_PREFIX):
        return path[len(SHIPPED_PREFIX):]
    return None


def config_candidates(path: str, dirs: List[str] = ()) -> List[str]:
    """Where config ``path`` may be, in order: as given (absolute, or in each
    of ``dirs`` and then the working directory), then, for ``configs/...``
    and ``mmseg_dpc::...``, among the shipped configs."""
    path = osp.expanduser(path)
    shipped = _shipped_name(path)
    tried = []
    if shipped is None or not path.startswith(PACKAGE_PREFIX):
        tried = [path] if osp.isabs(path) else [
            osp.join(d, path) for d in [*dirs, os.getcwd()]]
    if shipped is not None:
        tried.append(osp.join(shipped_configs_dir(), shipped))
    return tried


def find_config(path: str, dirs: List[str] = ()) -> Optional[str]:
    """The absolute path of the first of :func:`config_candidates` that is a
    file, or ``None``."""
    for candidate in config_candidates(path, dirs):
        if osp.isfile(candidate):
            return osp.abspath(candidate)
    return None


def resolve_config_path(cfg: Config, key: str) -> str:
    """The absolute path of the config file that ``cfg[key]`` names
    (``key`` may be dotted, e.g. ``rerank.full_config``).

    A relative path is looked up as ``_base_`` is, next to the config file
    that holds it, then in the current working directory (where mmseg's
    tools run), and a ``configs/...`` or ``mmseg_dpc::...`` path finally
    among the shipped configs, so the shipped search configs work from any
    directory. The error names the key and every place tried.
    """
    value: Any = cfg
    for part in key.split('.'):
        value = value.get(part) if hasattr(value, 'get') else None
    if not isinstance(value, str) or not value:
        raise ValueError(f'{key} must be a config file path, got {value!r}')
    filename = getattr(cfg, 'filename', None)
    dirs = [osp.dirname(osp.abspath(filename))] if filename else []
    found = find_config(value, dirs)
    if found is not None:
        return found
    tried = config_candidates(value, dirs)
    where = f' (in {cfg.filename})' if getattr(cfg, 'filename', None) else ''
    raise ValueError(f'{key}{where}: config file {value!r} not found; '
                     f'tried {", ".join(tried)}')
