"""Zero-cost scores of a cell: computed on its stand-alone ``DPCHead`` at
initialisation, on one batch of cached features, without training.

Each score follows its paper and the reference code of Abdelfattah et al.
(ICLR 2021, "Zero-Cost Proxies for Lightweight NAS",
SamsungLabs/zero-cost-nas), which NAS-Bench-Suite-Zero (Krishnakumar et al.,
NeurIPS 2022; NASLib ``predictors/utils/pruners``) uses:

- the head is in training mode (BatchNorm normalises with the batch's
  statistics), as the reference's networks are; dropout is switched off,
  which the reference's networks do not have, so a score is a function of
  the architecture, its seeded initialisation and the batch;
- gradient-based scores use the head's own training loss
  (``loss_by_feat``: logits resized to the labels, cross-entropy, 255
  ignored);
- per-weight scores are summed over the weights of every ``Conv2d`` /
  ``Linear`` layer (the reference's ``get_layer_metric_array`` and
  ``sum_arr``).

Bigger is better for every score as defined (params and FLOPs included, as
the trivial baselines are used).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import (Callable, Dict, Iterable, Iterator, List, Mapping,
                    Optional, Sequence, Tuple)

import numpy as np
import torch
import torch.nn as nn
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.dropout import _DropoutNd

from .architecture import Architecture
from .cached_batches import FeatureBatch, load_feature_batch
from .cost import head_cost
from .scoring_progress import ScoringProgress

ScoreFn = Callable[[nn.Module, FeatureBatch], float]
_SCORES: Dict[str, ScoreFn] = {}


def register_score(name: str) -> Callable[[ScoreFn], ScoreFn]:
    """Register ``fn(head, batch) -> float`` as zero-cost score ``name``."""
    def add(fn: ScoreFn) -> ScoreFn:
        if name in _SCORES:
            raise KeyError(f'zero-cost score {name!r} is registered already')
        _SCORES[name] = fn
        return fn
    return add


def score_names() -> Tuple[str, ...]:
    """The registered zero-cost scores."""
    return tuple(_SCORES)


def get_score(name: str) -> ScoreFn:
    """The score function of ``name``; ``ValueError`` naming the known ones
    for an unknown name."""
    if name not in _SCORES:
        raise ValueError(f'unknown zero-cost score {name!r}; known: '
                         f'{", ".join(_SCORES)}')
    return _SCORES[name]


def zero_cost_score(name: str, head: nn.Module, batch: FeatureBatch) -> float:
    """Score ``name`` of ``head`` (a ``DPCHead``) on ``batch``, computed on
    a copy: ``head`` is left as it was."""
    fn = get_score(name)
    return float(fn(copy.deepcopy(head), batch))


# --- helpers -------------------------------------------------------------
def _train_mode(head: nn.Module) -> nn.Module:
    head.train()
    for m in head.modules():
        if isinstance(m, _DropoutNd):
            m.eval()
    head.zero_grad(set_to_none=True)
    return head


def _weighted_layers(head: nn.Module) -> List[nn.Module]:
    return [m for m in head.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _samples(labels: torch.Tensor) -> List[SegDataSample]:
    out = []
    for lab in labels:
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=lab[None])
        shape = tuple(lab.shape)
        s.set_metainfo(dict(img_shape=shape, ori_shape=shape))
        out.append(s)
    return out


def _loss(head: nn.Module, batch: FeatureBatch) -> torch.Tensor:
    """The head's training loss on the batch."""
    losses = head.loss_by_feat(head([batch.inputs]), _samples(batch.labels))
    return sum(v for k, v in losses.items() if k.startswith('loss'))


# --- the scores -----------------------------------------------------------
@register_score('grad_norm')
def grad_norm(head: nn.Module, batch: FeatureBatch) -> float:
    """Sum over layers of the L2 norm of the loss gradient of the layer's
    weights (Abdelfattah et al. 2021, Sec. 3: ``grad_norm``)."""
    _train_mode(head)
    _loss(head, batch).backward()
    return float(sum(m.weight.grad.norm() for m in _weighted_layers(head)
                     if m.weight.grad is not None))


@register_score('snip')
def snip(head: nn.Module, batch: FeatureBatch) -> float:
    """SNIP saliency (Lee et al., ICLR 2019, "SNIP: Single-shot Network
    Pruning based on Connection Sensitivity"): ``|dL/dc|`` of a
    multiplicative mask ``c = 1`` on every weight, i.e. ``|w * dL/dw|``,
    summed over all weights."""
    _train_mode(head)
    _loss(head, batch).backward()
    return float(sum((m.weight.detach() * m.weight.grad).abs().sum()
                     for m in _weighted_layers(head)
                     if m.weight.grad is not None))


@register_score('fisher')
def fisher(head: nn.Module, batch: FeatureBatch) -> float:
    """Fisher pruning saliency (Theis et al. 2018, "Faster gaze prediction
    with dense networks and Fisher pruning"; used for NAS by Turner et al.,
    ICLR 2020, "BlockSwap"): per output channel k of every layer,
    ``0.5 * mean_n (sum_xy a * dL/da)^2`` with ``a`` the layer's
    activation. As the reference code, each channel's value is broadcast to
    the weights of that channel before the sum (so it counts once per
    weight of its filter)."""
    _train_mode(head)
    layers = _weighted_layers(head)
    saliency: Dict[nn.Module, torch.Tensor] = {}
    handles = []

    def capture(layer):
        def hook(module, inputs, act):
            def on_grad(grad):
                dims = list(range(2, act.dim()))
                g = (act.detach() * grad).sum(dims) if dims else \
                    act.detach() * grad
                value = g.pow(2).mean(0).mul(0.5)
                saliency[layer] = saliency.get(layer, 0) + value
            act.register_hook(on_grad)
        return hook

    for layer in layers:
        handles.append(layer.register_forward_hook(capture(layer)))
    try:
        _loss(head, batch).backward()
    finally:
        for h in handles:
            h.remove()
    return float(sum(s.abs().sum() * math.prod(layer.weight.shape[1:])
                     for layer, s in saliency.items()))


@register_score('synflow')
def synflow(head: nn.Module, batch: FeatureBatch) -> float:
    """SynFlow (Tanaka et al., NeurIPS 2020, "Pruning neural networks
    without any data by iteratively conserving synaptic flow"): with every
    parameter replaced by its absolute value, batch norm removed (the
    reference's ``bn=False``) and an all-ones input of one map in double
    precision, ``R = sum(output)``; the score is ``sum |w * dR/dw|``.
    Data-free: only the batch's shape is used."""
    for name, m in list(head.named_modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, _BatchNorm):
                setattr(m, child_name, nn.Identity())
    _train_mode(head)
    head.double()
    with torch.no_grad():
        for t in head.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    ones = torch.ones((1, ) + tuple(batch.inputs.shape[1:]),
                      dtype=torch.double, device=batch.inputs.device)
    head([ones]).sum().backward()
    return float(sum((m.weight.detach() * m.weight.grad).abs().sum()
                     for m in _weighted_layers(head)
                     if m.weight.grad is not None))


@register_score('naswot')
def naswot(head: nn.Module, batch: FeatureBatch) -> float:
    """NASWOT (Mellor et al., ICML 2021, "Neural Architecture Search
    without Training"): the binary code of each map is which ReLU units
    are active; ``K[i, j]`` counts the units on which maps i and j agree,
    summed over all ReLUs; the score is ``log |det K|``. Distinct activation
    patterns give a larger score; maps the head cannot tell apart make
    ``K`` singular (``-inf``)."""
    _train_mode(head)
    n = len(batch)
    kernel = torch.zeros(n, n, dtype=torch.float64)
    handles = []

    def count(module, inputs, out):
        x = (out.detach() > 0).flatten(1).double()
        kernel.add_((x @ x.t() + (1 - x) @ (1 - x).t()).cpu())

    for m in head.modules():
        if isinstance(m, nn.ReLU):
            handles.append(m.register_forward_hook(count))
    try:
        with torch.no_grad():
            head([batch.inputs])
    finally:
        for h in handles:
            h.remove()
    return float(torch.linalg.slogdet(kernel)[1])


@register_score('jacob_cov')
def jacob_cov(head: nn.Module, batch: FeatureBatch) -> float:
    """Jacobian covariance (Mellor et al. 2020, arXiv:2006.04647v1, "Neural
    Architecture Search without Training", first version): ``J_i`` is the
    gradient of the summed output with respect to map i; with ``s`` the
    eigenvalues of the correlation matrix of the ``J_i`` and ``k = 1e-5``,
    the score is ``-sum(log(s + k) + 1 / (s + k))``: larger when the maps'
    local linear maps are less correlated. NaN where a Jacobian is constant
    (the reference's failure value)."""
    _train_mode(head)
    x = batch.inputs.clone().requires_grad_(True)
    y = head([x])
    y.backward(torch.ones_like(y))
    jac = x.grad.detach().reshape(len(batch), -1).double().cpu().numpy()
    with np.errstate(all='ignore'):
        corr = np.corrcoef(jac)
    if not np.isfinite(corr).all():
        return float('nan')
    s = np.linalg.eigvalsh(corr)  # symmetric: the reference's eig, real
    k = 1e-5
    return float(-np.sum(np.log(s + k) + 1.0 / (s + k)))


def _cost(head: nn.Module, batch: FeatureBatch):
    if getattr(head, 'c1_bottleneck', None) is not None:
        raise ValueError('zero-cost params/flops: a head with the '
                         'DeepLabv3+ decoder is not supported')
    return head_cost(head.arch, head.in_channels,
                     tuple(batch.inputs.shape[2:]), head.channels,
                     head.num_classes,
                     rate_multiplier=head.dpc.rate_multiplier)


@register_score('params')
def params(head: nn.Module, batch: FeatureBatch) -> float:
    """The head's parameter count (:func:`~mmseg_dpc.search.cost.head_cost`,
    equal to ``sum(p.numel())``): the trivial baseline."""
    return float(_cost(head, batch).params)


@register_score('flops')
def flops(head: nn.Module, batch: FeatureBatch) -> float:
    """The head's FLOPs on one map of the batch's size
    (:func:`~mmseg_dpc.search.cost.head_cost`, equal to mmengine's count):
    the trivial baseline."""
    return float(_cost(head, batch).flops)


# --- many cells -------------------------------------------------------------
@dataclass(frozen=True)
class ZeroCostScores:
    """The zero-cost scores of one cell; ``index`` is its place in the
    sequence given."""
    arch: Architecture
    scores: Mapping[str, float] = field(default_factory=dict)
    index: int = 0


class ZeroCostScorer:
    """Scores cells at initialisation on one fixed batch.

    Args:
        head_cfg: the proxy's ``DPCHead`` config; each cell's head is this
            config with its ``arch``, built and initialised under ``seed``
            (the same initialisation stream for every cell).
        batch: the batch every score is computed on.
        scores: names of the scores to compute (:func:`score_names`).
        seed: seed of the heads' initialisation.
    """

    def __init__(self, head_cfg: Mapping, batch: FeatureBatch,
                 scores: Sequence[str] = ('naswot', 'jacob_cov', 'grad_norm',
                                          'snip', 'synflow', 'fisher',
                                          'params', 'flops'),
                 seed: int = 0) -> None:
        if not scores:
            raise ValueError('ZeroCostScorer: no scores asked for')
        self.fns = {name: get_score(name) for name in scores}
        if head_cfg.get('type') != 'DPCHead':
            raise ValueError(f'ZeroCostScorer: the head config is '
                             f'{head_cfg.get("type")!r}, a DPCHead is needed')
        self.head_cfg = copy.deepcopy(dict(head_cfg))
        self.batch = batch
        self.seed = seed

    @classmethod
    def from_config(cls, cfg, scores: Sequence[str] = None,
                    batch_size: Optional[int] = None, seed: int = 0,
                    device: str = 'cpu') -> 'ZeroCostScorer':
        """The scorer of proxy config ``cfg``: its head config, and
        ``batch_size`` maps (the train loader's batch size by default) of
        the cached training split drawn by ``seed``."""
        if scores is not None:  # name an unknown score before any loading
            for name in scores:
                get_score(name)
        from mmengine.registry import init_default_scope
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        batch = load_feature_batch(
            cfg, 'train_dataloader',
            batch_size or cfg.train_dataloader.batch_size, seed, device)
        kwargs = {} if scores is None else dict(scores=scores)
        return cls(cfg.model.decode_head, batch, seed=seed, **kwargs)

    def build_head(self, arch) -> nn.Module:
        """The cell's ``DPCHead`` at its seeded initialisation (as a
        Runner initialises it: ``init_weights``)."""
        from mmseg.registry import MODELS
        arch = arch if isinstance(arch, Architecture) else Architecture(arch)
        cfg = dict(self.head_cfg)
        cfg.pop('arch', None)
        cfg = arch.head_config(**{k: v for k, v in cfg.items()
                                  if k != 'type'})
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            head = MODELS.build(cfg)
            head.init_weights()
        return head.to(self.batch.inputs.device)

    def score(self, arch, index: int = 0) -> ZeroCostScores:
        """Every asked score of one cell."""
        arch = arch if isinstance(arch, Architecture) else Architecture(arch)
        head = self.build_head(arch)
        out = {}
        for name, fn in self.fns.items():
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                out[name] = float(fn(copy.deepcopy(head), self.batch))
        return ZeroCostScores(arch, out, index)

    def score_cells(self, cells: Iterable,
                    progress: Optional[Callable[[ScoringProgress], None]]
                    = None) -> Iterator[ZeroCostScores]:
        """Score every cell in the order given, yielding each as it is
        done; ``progress`` is called after each."""
        archs = [c if isinstance(c, Architecture) else Architecture(c)
                 for c in cells]
        start = time.monotonic()
        for i, arch in enumerate(archs):
            yield self.score(arch, i)
            if progress is not None:
                progress(ScoringProgress(i + 1, len(archs),
                                         time.monotonic() - start))
