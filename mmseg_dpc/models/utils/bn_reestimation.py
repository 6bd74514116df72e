"""Re-estimating BatchNorm statistics of a sub-network with inherited weights.

A path of a weight-sharing supernet inherits running statistics that were
accumulated over every cell the supernet trained, not over its own
activations; SPOS (Guo et al. 2019) re-estimates them on a few training
batches before scoring a path. Here the statistics are reset and
re-estimated as the cumulative average over the batches (``momentum=None``),
with the batch-norm layers in training mode and every other module in eval
mode (dropout off, so the estimate is deterministic), without gradients:
only the BN buffers change.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm


def batch_norms(module: nn.Module):
    """The batch-norm layers of ``module`` that track running statistics."""
    return [m for m in module.modules()
            if isinstance(m, _BatchNorm) and m.track_running_stats]


@torch.no_grad()
def reestimate_bn_statistics(module: nn.Module,
                             batches: Iterable[Any],
                             forward: Optional[Callable[[Any], Any]] = None
                             ) -> int:
    """Replace the running statistics of every BN layer in ``module`` by
    their average over ``batches``.

    Args:
        module: the model (or head) whose BN layers are re-estimated.
        batches: what ``forward`` takes, one item per batch (K batches).
        forward: runs the module on one batch; ``module(batch)`` by default.
            A BN layer the forward does not reach keeps its reset
            statistics (mean 0, variance 1).

    Returns:
        The number of batches used.

    Raises:
        ValueError: ``batches`` is empty (the statistics would be left
            reset).
    """
    forward = forward or module
    norms = batch_norms(module)
    modes = {m: m.training for m in module.modules()}
    momenta = {m: m.momentum for m in norms}
    count = 0
    try:
        module.eval()
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average
            m.train()
        for batch in batches:
            forward(batch)
            count += 1
    finally:
        for m in norms:
            m.momentum = momenta[m]
        for m, training in modes.items():
            m.training = training
    if count == 0:
        raise ValueError('reestimate_bn_statistics: no batches given (at '
                         'least one is needed)')
    return count
