"""Make mmengine checkpoints loadable under torch's ``weights_only=True``.

torch >= 2.6 unpickles checkpoints with ``weights_only=True`` by default, and
mmengine 0.10.x stores a ``MessageHub`` state (``HistoryBuffer`` objects with
numpy arrays) in every checkpoint, so ``--resume`` fails. Rather than turning
weights-only loading off, we allow-list exactly the classes those checkpoints
hold, and stop ``HistoryBuffer`` from pickling its built-in statistics
methods: they pickle as ``getattr(HistoryBuffer, 'min')``, and allow-listing
``getattr`` would let a checkpoint reach any attribute of any allowed class.
``HistoryBuffer.__setstate__`` registers the built-ins again on load.
"""
from __future__ import annotations

from typing import List

import numpy as np
import torch


def checkpoint_safe_globals() -> List[object]:
    """The classes an mmengine checkpoint of an mmseg run needs."""
    from mmengine.logging import HistoryBuffer
    np_core = getattr(np, '_core', None) or np.core
    safe = [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        np_core.multiarray._reconstruct,
        np_core.multiarray.scalar,
    ]
    # numpy >= 1.25 pickles dtypes as instances of np.dtypes.*DType
    safe += [
        getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith('DType')
    ]
    return safe


def _history_buffer_getstate(self) -> dict:
    """``HistoryBuffer.__getstate__`` that leaves out the built-in
    statistics (min, max, current, mean), which ``__setstate__`` restores.
    Custom statistics registered by users are still saved."""
    from mmengine.logging import HistoryBuffer
    builtin = {
        name: getattr(HistoryBuffer, name)
        for name in ('min', 'max', 'current', 'mean')
    }
    custom = {
        k: v
        for k, v in self._statistics_methods.items()
        if builtin.get(k) is not v
    }
    state = {k: v for k, v in self.__dict__.items()
             if k != 'statistics_methods'}
    if custom:
        state['statistics_methods'] = custom
    return state


def register_checkpoint_safe_globals() -> None:
    """Allow-list :func:`checkpoint_safe_globals` for ``torch.load`` and make
    ``HistoryBuffer`` pickle without ``getattr``."""
    from mmengine.logging import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch < 2.4 has no weights-only allow list
        add(checkpoint_safe_globals())


class CheckpointError(ValueError):
    """A file that is not a checkpoint, or one that weights-only loading
    refuses."""


def check_checkpoint(path: str) -> None:
    """Raise :class:`CheckpointError` with a plain reason unless ``path``
    loads under ``weights_only=True`` (memory-mapped where the format
    allows, so tensors are not read). Run before a tool hands the file to
    mmengine, whose error would be torch's "please file an issue" text."""
    import os.path as osp
    import pickle
    if not osp.isfile(path):
        raise CheckpointError(f'checkpoint not found: {path}')
    try:
        try:
            torch.load(path, map_location='cpu', weights_only=True,
                       mmap=True)
        except RuntimeError as e:
            if 'mmap' not in str(e):
                raise
            torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        refused = [line.strip() for line in text.splitlines()
                   if 'GLOBAL' in line or 'Unsupported global' in line]
        if refused:
            what = refused[0]
            raise CheckpointError(
                f'{path} holds objects that weights-only loading refuses '
                f'({what}): not loaded, for safety. Load only checkpoints '
                'you trust; mmseg-dpc never turns weights_only off') from None
        raise CheckpointError(f'{path} is not a PyTorch checkpoint (it '
                              'cannot be unpickled)') from None
    except Exception as e:  # garbage makes the unpickler fail any way
        first = str(e).strip().splitlines()[0] if str(e).strip() else ''
        raise CheckpointError(f'{path} is not a PyTorch checkpoint '
                              f'({type(e).__name__}: {first[:200]})'
                              ) from None
