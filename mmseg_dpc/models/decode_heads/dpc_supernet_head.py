"""A decode head holding a DPC supernet: trains one sampled cell per iteration
(uniform as SPOS, Guo et al. 2019, or strictly fair as FairNAS), and exports
any cell as a ``DPCHead``."""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

from ..utils import PAPER_GRIDS, PAPER_RATES
from ..utils.cell_spec import OPS, CellLike
from ..utils.dpc_supernet import (DEFAULT_SHARING, ArchLike, Cell,
                                  DPCSupernet, check_sampling)

#: state-dict keys of a DPCSupernetHead that a DPCHead has no counterpart for
_SUPERNET_ONLY = ('supernet.', 'num_sampled')


@MODELS.register_module()
class DPCSupernetHead(BaseDecodeHead):
    """Weight-sharing DPC head: every cell of a space in one module.

    In training (:meth:`loss`) each call samples the cell of
    ``(sample_seed, num_sampled)`` and trains only its path; the
    counter ``num_sampled`` is a buffer, saved in checkpoints, so a resumed
    run continues the same sequence of cells. In inference the head
    computes :attr:`active_arch`: the cell given to :meth:`set_arch`, else
    ``eval_arch``, else the uniform seeded cell of iteration -1 (what the
    Runner's validation during supernet training measures: a monitor, not
    a score, the same cell whatever ``sampling``). ``sampling`` is not
    saved with the weights: a run resumed under another one continues
    the counter in the other sequence.

    Args:
        num_branches, rates, grids, ops, sharing: the space and the sharing
            granularity (:class:`DPCSupernet`).
        output_stride, rate_multiplier, cell_dropout_ratio,
            cell_dropout_type: as :class:`DPCHead` (and so the exported
            heads).
        sample_seed: seed of the training cells' sequence.
        sampling: how the training cells are sampled: ``'uniform'`` over
            cells or ``'fair'`` over modules (:class:`DPCSupernet`).
        eval_arch: the cell inference computes by default.
        **kwargs: :class:`BaseDecodeHead` arguments (``channels`` is every
            branch's width).
    """

    def __init__(self,
                 num_branches: int = 5,
                 rates: Iterable[int] = PAPER_RATES,
                 grids: Iterable[int] = PAPER_GRIDS,
                 ops: Iterable[str] = OPS,
                 sharing: str = DEFAULT_SHARING,
                 output_stride: int = 16,
                 rate_multiplier: Optional[int] = None,
                 cell_dropout_ratio: float = 0.1,
                 cell_dropout_type: str = 'channel',
                 sample_seed: int = 0,
                 sampling: str = 'uniform',
                 eval_arch: Optional[CellLike] = None,
                 **kwargs) -> None:
        # what a DPCHead of one cell needs besides the cell
        self._cell_head_kwargs = copy.deepcopy(dict(
            kwargs, output_stride=output_stride,
            rate_multiplier=rate_multiplier,
            cell_dropout_ratio=cell_dropout_ratio,
            cell_dropout_type=cell_dropout_type,
            rates=list(rates), grids=list(grids)))
        super().__init__(**kwargs)
        if isinstance(sample_seed, bool) or not isinstance(sample_seed, int):
            raise ValueError(f'DPCSupernetHead: sample_seed must be an int, '
                             f'got {sample_seed!r}')
        self.supernet = DPCSupernet(
            self.in_channels, self.channels, num_branches=num_branches,
            rates=rates, grids=grids, ops=ops, sharing=sharing,
            output_stride=output_stride, rate_multiplier=rate_multiplier,
            dropout_ratio=cell_dropout_ratio, dropout_type=cell_dropout_type,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg, act_cfg=self.act_cfg,
            align_corners=self.align_corners)
        self.sample_seed = sample_seed
        self.sampling = check_sampling(sampling, 'DPCSupernetHead')
        self.eval_arch: Optional[Cell] = (
            None if eval_arch is None else self.supernet.check_arch(eval_arch))
        self._arch: Optional[Cell] = None
        self.register_buffer('num_sampled', torch.zeros((), dtype=torch.long))

    # --- which cell -------------------------------------------------------
    @property
    def space(self):
        """The supernet's :class:`SupernetSpace`."""
        return self.supernet.space

    def sample_arch(self, iteration: int) -> Cell:
        """The training cell of ``iteration`` (seeded, by ``sampling``)."""
        return self.supernet.sample(self.sample_seed, iteration,
                                    self.sampling)

    def set_arch(self, arch: Optional[ArchLike]) -> None:
        """Make inference compute ``arch`` (``None``: back to the default)."""
        self._arch = None if arch is None else self.supernet.check_arch(arch)

    @property
    def active_arch(self) -> Cell:
        """The cell :meth:`forward` computes when given none."""
        if self._arch is not None:
            return self._arch
        if self.eval_arch is not None:
            return self.eval_arch
        return self.supernet.sample(self.sample_seed, -1)

    # --- forward ----------------------------------------------------------
    def forward(self, inputs: List[torch.Tensor],
                arch: Optional[ArchLike] = None) -> torch.Tensor:
        """Logits of ``arch`` (default :attr:`active_arch`)."""
        x = self._transform_inputs(inputs)
        return self.cls_seg(self.supernet(
            x, self.active_arch if arch is None else arch))

    def loss(self, inputs, batch_data_samples, train_cfg) -> dict:
        """One step: the losses of the next sampled cell (its path alone
        gets gradients)."""
        cell = self.sample_arch(int(self.num_sampled))
        self.num_sampled += 1
        return self.loss_by_feat(self.forward(inputs, cell),
                                 batch_data_samples)

    # --- export -------------------------------------------------------------
    def cell_head_config(self, arch: ArchLike) -> Dict[str, Any]:
        """A ``DPCHead`` config of ``arch`` with this head's widths, classes,
        norm, loss and rate settings: the head
        :func:`export_cell_state_dict` fills."""
        cell = self.supernet.check_arch(arch)
        cfg = copy.deepcopy(self._cell_head_kwargs)
        cfg.update(type='DPCHead', arch=[b.to_dict() for b in cell])
        return cfg


def export_cell_state_dict(head: DPCSupernetHead, arch: ArchLike,
                           prefix: str = '') -> 'OrderedDict[str, Any]':
    """The state dict of ``DPCHead(**head.cell_head_config(arch))`` holding
    the supernet path's weights and BN statistics: that head computes the
    same logits as ``head.forward(inputs, arch)``. ``prefix``: e.g.
    ``'decode_head.'`` for a segmentor's state dict (a scored cell's
    inherited weights can start a trial)."""
    out: 'OrderedDict[str, Any]' = OrderedDict()
    for k, v in head.supernet.path_state_dict(arch).items():
        out[f'{prefix}dpc.{k}'] = v
    for k, v in head.state_dict().items():
        if not k.startswith(_SUPERNET_ONLY):
            out[prefix + k] = v.detach().clone()
    return out
