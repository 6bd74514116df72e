"""Parameters and FLOPs of a DPC head without building it.

Closed forms matching the modules exactly: ``params`` as
``sum(p.numel())`` (batch-norm affine parameters included, running
statistics not); ``flops`` as mmengine's complexity analysis counts an
inference pass (one per fused multiply-add of a convolution, two per element
of an affine batch norm, one per input element of average pooling, four per
output element of bilinear resizing; ReLU is not counted);
``madds`` the convolutions' multiply-adds alone, the paper's Multiply-Adds.

``flops`` counts the work done: a separable conv whose rate reaches past the
feature map skips the taps that read only padding (:class:`AtrousConv2d`),
so on small maps large rates cost less. ``madds`` keeps the paper's
convention (every tap of every kernel).
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

from ..models.utils.atrous_conv import kept_taps
from ..models.utils.cell_spec import CONV1X1, SEP_CONV3X3, Branch


@dataclass(frozen=True)
class Cost:
    params: int
    flops: int
    #: convolution multiply-adds only (the paper's MAdds)
    madds: int = 0
    #: the paper's Table 1 convention: branch conv weights only
    paper_params: int = 0

    def __add__(self, other: 'Cost') -> 'Cost':
        return Cost(self.params + other.params, self.flops + other.flops,
                    self.madds + other.madds,
                    self.paper_params + other.paper_params)

    def to_dict(self) -> dict:
        return asdict(self)


def _conv(cin: int, cout: int, hw: int, k: int = 1, groups: int = 1,
          bn: bool = True, bias: bool = False, taps: int = 0) -> Cost:
    """A conv (+ BN); ``taps``: kernel taps executed, when fewer than k*k."""
    w = cout * (cin // groups) * k * k
    done = cout * (cin // groups) * (taps or k * k)
    return Cost(params=w + (2 * cout if bn else 0) + (cout if bias else 0),
                flops=done * hw + (2 * cout * hw if bn else 0),
                madds=w * hw, paper_params=w)


def _atrous_taps(rate: Sequence[int], size: Tuple[int, int]) -> int:
    """Taps of a 3x3 kernel of ``rate`` that can read a pixel of ``size``."""
    n = 1
    for r, s in zip(rate, size):
        n *= 2 * kept_taps(3, r, r, s)[0] + 1
    return n


def branch_cost(branch: Branch, cin: int, channels: int,
                size: Tuple[int, int], output_stride: int = 16,
                rate_multiplier: Optional[int] = None) -> Cost:
    hw = size[0] * size[1]
    if branch.op == CONV1X1:
        return _conv(cin, channels, hw)
    if branch.op == SEP_CONV3X3:
        rate = [r * (rate_multiplier or 16 // output_stride)
                for r in branch.rate]
        return (_conv(cin, cin, hw, k=3, groups=cin,
                      taps=_atrous_taps(rate, size))
                + _conv(cin, channels, hw))
    grid = branch.grid[0] * branch.grid[1]
    conv = _conv(cin, channels, grid)
    pool_and_resize = cin * hw + 4 * channels * hw
    return conv + Cost(0, pool_and_resize)


def cell_cost(cell: Sequence[Branch], in_channels: int,
              feature_size: Tuple[int, int], channels: int = 256,
              output_stride: int = 16,
              rate_multiplier: Optional[int] = None) -> Cost:
    """Cost of a :class:`DensePredictionCell` (branches + projection).
    ``paper_params`` counts the branches' conv weights only, as Table 1."""
    hw = feature_size[0] * feature_size[1]
    total = Cost(0, 0)
    for b in cell:
        total += branch_cost(b, in_channels if b.input < 0 else channels,
                             channels, tuple(feature_size), output_stride,
                             rate_multiplier)
    proj = _conv(channels * len(cell), channels, hw)
    return total + Cost(proj.params, proj.flops, proj.madds)


def head_cost(cell: Sequence[Branch], in_channels: int,
              feature_size: Tuple[int, int], channels: int = 256,
              num_classes: int = 19, c1_in_channels: int = 0,
              c1_channels: int = 48,
              c1_size: Optional[Tuple[int, int]] = None,
              output_stride: int = 16,
              rate_multiplier: Optional[int] = None) -> Cost:
    """Cost of a whole :class:`DPCHead`: cell, optional DeepLabv3+ decoder
    (low-level feature of ``c1_size``) and classifier."""
    total = cell_cost(cell, in_channels, feature_size, channels,
                      output_stride, rate_multiplier)
    out_hw = feature_size[0] * feature_size[1]
    if c1_in_channels > 0:
        if c1_size is None:
            raise ValueError('head_cost: c1_size is needed with a decoder')
        out_hw = c1_size[0] * c1_size[1]
        total += Cost(0, 4 * channels * out_hw)  # resize to the c1 size
        mid = channels + c1_channels
        for part in (_conv(c1_in_channels, c1_channels, out_hw),
                     _conv(mid, mid, out_hw, k=3, groups=mid),
                     _conv(mid, channels, out_hw),
                     _conv(channels, channels, out_hw, k=3, groups=channels),
                     _conv(channels, channels, out_hw)):
            total += Cost(part.params, part.flops, part.madds)
    cls = _conv(channels, num_classes, out_hw, bn=False, bias=True)
    return total + Cost(cls.params, cls.flops, cls.madds)


def proxy_head_cost(proxy_cfg, feature_shape: Sequence[int]
                    ) -> Callable[[Sequence[Branch]], Dict[str, int]]:
    """``cell -> dict(params, flops)`` of the proxy's whole DPC head on
    features of ``feature_shape`` ``(C, h, w)`` (see
    :func:`~mmseg_dpc.feature_cache.check_proxy_cache`): the cost a
    search's objectives and constraints read."""
    return _head_cost_fn(proxy_cfg.model.decode_head,
                         tuple(feature_shape[1:]))


def model_head_cost(cfg, input_size: Sequence[int]
                    ) -> Callable[[Sequence[Branch]], Dict[str, int]]:
    """``cell -> dict(params, flops)`` of a full model's DPC head (cell,
    decoder at stride 4 where it has one, classifier) on an image of
    ``input_size`` ``(h, w)``: the cost of a re-ranked model's head."""
    head = cfg.model.decode_head
    stride = head.get('output_stride', 16)
    h, w = input_size
    return _head_cost_fn(head, (-(-h // stride), -(-w // stride)),
                         (-(-h // 4), -(-w // 4)))


def _head_cost_fn(head, feature_size: Tuple[int, int],
                  c1_size: Optional[Tuple[int, int]] = None):
    shape = dict(in_channels=head.in_channels, channels=head.channels,
                 num_classes=head.num_classes,
                 output_stride=head.get('output_stride', 16),
                 rate_multiplier=head.get('rate_multiplier'),
                 feature_size=feature_size)
    if head.get('c1_in_channels', 0) > 0:
        shape.update(c1_in_channels=head.c1_in_channels,
                     c1_channels=head.get('c1_channels', 48),
                     c1_size=c1_size)

    def cost(cell: Sequence[Branch]) -> Dict[str, int]:
        c = head_cost(cell, **shape)
        return dict(params=c.params, flops=c.flops)

    return cost


def counted_cost(cfg, input_size: Sequence[int]) -> Dict[str, Dict]:
    """Params and FLOPs of a model config (any decode head) and of its
    decode head, as mmengine's complexity analysis counts them on one image
    of ``input_size`` ``(h, w)``: ``{'model': {...}, 'decode_head':
    {...}}``, each with ``params``, ``flops`` and their ``*_str``. The
    same count for every kind of head (ASPP beside DPC); on a DPC head it
    equals :func:`model_head_cost`."""
    import torch
    from mmengine.analysis import get_model_complexity_info
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('pretrained', None)  # the count needs no weights
    model_cfg.backbone.pop('init_cfg', None)
    model = MODELS.build(model_cfg).eval()
    x = torch.zeros(1, 3, *input_size)
    with torch.no_grad():
        whole = get_model_complexity_info(model, inputs=(x, ),
                                          show_table=False, show_arch=False)
        feats = model.extract_feat(x)
        head = get_model_complexity_info(model.decode_head,
                                         inputs=(list(feats), ),
                                         show_table=False, show_arch=False)
    pick = ('params', 'flops', 'params_str', 'flops_str')
    return dict(model={k: whole[k] for k in pick},
                decode_head={k: head[k] for k in pick},
                head_type=type(model.decode_head).__name__)
