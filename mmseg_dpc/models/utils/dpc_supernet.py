"""A weight-sharing supernet of Dense Prediction Cells (one-shot NAS, SPOS:
Guo et al. 2019, "Single Path One-Shot Neural Architecture Search with
Uniform Sampling").

Every branch position holds every operation of the space once for each kind
of input it can read: the backbone feature F (``in_channels``) or an earlier
branch's output (``channels``); position 0 can only read F. The concat
projection is shared by all cells. A cell is one path through the supernet,
built from the same modules as :class:`DensePredictionCell`, so the path
computes exactly what a stand-alone cell computes with the same weights, and
:meth:`DPCSupernet.path_state_dict` exports them under the cell's keys.

Sharing granularity of the separable convolutions (``sharing``):

- ``'rate_pair'``: one separable conv per ``(r_h, r_w)`` pair and position
  (and input kind): rates share nothing.
- ``'position'``: one separable conv per position (and input kind); its
  dilation follows the sampled rate, so all 64 rate pairs train one set of
  weights (as a "kernel-sharing" supernet does). The default: on the
  demo's proxy task it ranked 30 cells closer to the stand-alone proxy
  (Kendall 0.41 against 0.26, docs/benchmarks.md) with fewer modules.

The 1x1 conv and each pyramid-pooling grid have their own module in both.

How training samples its cells (``sampling`` of :meth:`DPCSupernet.sample`):

- ``'uniform'``: uniform over the space's cells (SPOS), so a module is
  trained as often as the cells that use it are many: with the paper's
  space, position sharing's one separable conv serves 64 of a branch's 81
  operations, and each pooling grid or the 1x1 conv 1.
- ``'fair'``: strictly fair over modules (FairNAS, Chu et al., ICCV 2021):
  in each window of :attr:`DPCSupernet.fair_window` steps (starting at a
  multiple of it), every module of every position (of either input kind)
  is on the path equally often; the ops a shared module computes (the
  rates of position sharing's separable conv) and the earlier branch a
  branch input reads are uniform. So the trained cells are not the
  space's uniform ones: with position sharing a position's separable conv
  of one input kind is on the path 1 step in 18 at position 0 and 1 in 36
  later, where 64 of a branch's 81 operations use it.
  FairNAS also merges a window's gradients into one update; that is
  ``optim_wrapper.accumulative_counts`` = the window with ``max_iters`` a
  multiple of it (mmengine averages them; a run started with ``load_from``
  counts cells from the checkpoint's ``num_sampled``, not from its
  iteration, so windows and updates may not line up).
"""
from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from functools import reduce
from math import gcd
from typing import (Any, Dict, Iterable, List, Optional, Sequence, Tuple,
                    Union)

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule

from .atrous_conv import AtrousConv2d
from .cell_spec import (CONV1X1, OPS, PAPER_GRIDS, PAPER_RATES,
                        PYRAMID_POOLING, SEP_CONV3X3, Branch, CellLike,
                        parse_cell)
from .dense_prediction_cell import PyramidPooling, cell_dropout

#: Sharing granularities of the separable convolutions.
SHARING: Tuple[str, ...] = ('rate_pair', 'position')
#: The default (module docs say why).
DEFAULT_SHARING = 'position'
#: How training samples its cells (module docs).
SAMPLING: Tuple[str, ...] = ('uniform', 'fair')
#: Module-dict keys of the two input kinds.
FEATURE, BRANCH = 'feature', 'branch'

Cell = Tuple[Branch, ...]
#: a cell as the search's ``Architecture`` (anything with ``.branches``) or
#: anything :func:`parse_cell` accepts
ArchLike = Union[CellLike, Any]


def check_sampling(sampling: str, owner: str) -> str:
    """``sampling`` if it is one of :data:`SAMPLING`; else ``ValueError``
    naming ``owner`` (the class the value was given to) and the choices."""
    if sampling not in SAMPLING:
        raise ValueError(f'{owner}: sampling must be one of '
                         f'{list(SAMPLING)}, got {sampling!r}')
    return sampling


@dataclass(frozen=True)
class SupernetSpace:
    """What a supernet's weights are for: a checkpoint loads only into a
    supernet of the same space, sharing and widths."""
    num_branches: int
    rates: Tuple[int, ...]
    grids: Tuple[int, ...]
    ops: Tuple[str, ...]
    sharing: str
    in_channels: int
    channels: int
    rate_multiplier: int

    def to_dict(self) -> Dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> 'SupernetSpace':
        names = {f.name for f in fields(cls)}
        if not isinstance(d, dict) or set(d) != names:
            raise ValueError(f'DPCSupernet: not a supernet space record: '
                             f'{d!r}')
        return cls(**{k: tuple(v) if isinstance(v, list) else v
                      for k, v in d.items()})

    def differences(self, other: 'SupernetSpace') -> List[str]:
        """``'field: mine vs other'`` for each field that differs."""
        return [f'{f.name} {getattr(self, f.name)!r} vs '
                f'{getattr(other, f.name)!r}' for f in fields(self)
                if getattr(self, f.name) != getattr(other, f.name)]


class RateSharedSeparableConv(DepthwiseSeparableConvModule):
    """A 3x3 separable conv whose dilation (and "same" padding) is set per
    call: one set of weights for every rate (``sharing='position'``). Its
    state dict is a :class:`DepthwiseSeparableConvModule`'s, so it exports
    into a cell's branch of any rate."""

    def forward(self, x: torch.Tensor,
                rate: Tuple[int, int]) -> torch.Tensor:  # type: ignore
        conv = self.depthwise_conv.conv
        conv.dilation = conv.padding = tuple(rate)
        return super().forward(x)


def sample_cell(operations: Sequence[Tuple[str, Optional[Tuple[int, int]],
                                           Optional[Tuple[int, int]]]],
                num_branches: int, seed: int, iteration: int) -> Cell:
    """The cell of ``(seed, iteration)``: uniform over the listed cells
    (branch i reads F or one of the i earlier branches, and applies one of
    the operations, as :meth:`DPCSearchSpace.sample`). Derived from the pair
    alone, not from any global random state, so a resumed run continues
    the same sequence."""
    rng = random.Random(f'dpc-supernet/{seed}/{iteration}')
    cell = []
    for i in range(num_branches):
        inp = rng.randrange(i + 1) - 1
        op, rate, grid = operations[rng.randrange(len(operations))]
        cell.append(Branch(op, inp, rate, grid))
    return tuple(cell)


class DPCSupernet(nn.Module):
    """All cells of a DPC space in one module (see the module docs).

    Args:
        in_channels: channels of the backbone feature F.
        channels: output channels of every branch and of the projection.
        num_branches, rates, grids, ops: the space (the paper's by default,
            as :class:`DPCSearchSpace`).
        sharing: ``'position'`` (the default) or ``'rate_pair'`` (module
            docs).
        output_stride, rate_multiplier, dropout_ratio, dropout_type,
            conv_cfg, norm_cfg, act_cfg, align_corners: as
            :class:`DensePredictionCell`.
    """

    def __init__(self,
                 in_channels: int,
                 channels: int = 256,
                 num_branches: int = 5,
                 rates: Iterable[int] = PAPER_RATES,
                 grids: Iterable[int] = PAPER_GRIDS,
                 ops: Iterable[str] = OPS,
                 sharing: str = DEFAULT_SHARING,
                 output_stride: int = 16,
                 rate_multiplier: Optional[int] = None,
                 dropout_ratio: float = 0.1,
                 dropout_type: str = 'channel',
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 align_corners: bool = False) -> None:
        super().__init__()
        if sharing not in SHARING:
            raise ValueError(f'DPCSupernet: sharing must be one of '
                             f'{list(SHARING)}, got {sharing!r}')
        if output_stride not in (4, 8, 16):
            raise ValueError(f'DPCSupernet: output_stride must be 4, 8 or '
                             f'16, got {output_stride}')
        if rate_multiplier is not None and (
                not isinstance(rate_multiplier, int) or rate_multiplier < 1):
            raise ValueError(f'DPCSupernet: rate_multiplier must be an int '
                             f'>= 1, got {rate_multiplier!r}')
        if (isinstance(num_branches, bool) or not isinstance(num_branches, int)
                or num_branches < 1):
            raise ValueError(f'DPCSupernet: num_branches must be an int >= '
                             f'1, got {num_branches!r}')
        ops = tuple(ops)
        bad = [o for o in ops if o not in OPS]
        if not ops or bad or len(set(ops)) != len(ops):
            raise ValueError(f'DPCSupernet: ops must be distinct names from '
                             f'{list(OPS)}, got {list(ops)}')
        self.space = SupernetSpace(
            num_branches=num_branches, rates=tuple(rates),
            grids=tuple(grids), ops=ops, sharing=sharing,
            in_channels=in_channels, channels=channels,
            rate_multiplier=rate_multiplier or 16 // output_stride)
        self.channels = channels
        self.align_corners = align_corners
        self._conv_kwargs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                 act_cfg=act_cfg)
        # the listed operations, in DPCSearchSpace's order
        self.operations = []
        if CONV1X1 in ops:
            self.operations.append((CONV1X1, None, None))
        if SEP_CONV3X3 in ops:
            self.operations += [(SEP_CONV3X3, (h, w), None)
                                for h in self.space.rates
                                for w in self.space.rates]
        if PYRAMID_POOLING in ops:
            self.operations += [(PYRAMID_POOLING, None, (h, w))
                                for h in self.space.grids
                                for w in self.space.grids]
        self.branches = nn.ModuleList()
        for i in range(num_branches):
            kinds = [(FEATURE, in_channels)]
            if i > 0:
                kinds.append((BRANCH, channels))
            self.branches.append(nn.ModuleDict({
                kind: self._make_ops(cin) for kind, cin in kinds}))
        # for fair sampling: module key -> the operations it computes; the
        # least common multiple of the positions' module counts
        self._ops_of_key: Dict[str, List[Tuple[str, Any, Any]]] = {}
        for op, rate, grid in self.operations:
            self._ops_of_key.setdefault(
                self._op_key(Branch(op, -1, rate, grid)), []).append(
                    (op, rate, grid))
        counts = [sum(len(mods) for mods in kinds.values())
                  for kinds in self.branches]
        self._fair_window = reduce(lambda a, b: a * b // gcd(a, b), counts)
        self.dropout = cell_dropout(dropout_ratio, dropout_type)
        self.project = ConvModule(channels * num_branches, channels, 1,
                                  **self._conv_kwargs)

    # --- construction ---------------------------------------------------
    def _op_key(self, branch: Branch) -> str:
        if branch.op == CONV1X1:
            return CONV1X1
        if branch.op == SEP_CONV3X3:
            if self.space.sharing == 'position':
                return 'sep'
            return f'sep_{branch.rate[0]}x{branch.rate[1]}'
        return f'pool_{branch.grid[0]}x{branch.grid[1]}'

    def _rate(self, branch: Branch) -> Tuple[int, int]:
        m = self.space.rate_multiplier
        return (branch.rate[0] * m, branch.rate[1] * m)

    def _make_ops(self, cin: int) -> nn.ModuleDict:
        mods: Dict[str, nn.Module] = {}
        sep_kwargs = dict(self._conv_kwargs,
                          conv_cfg=self._conv_kwargs['conv_cfg']
                          or dict(type=AtrousConv2d))
        for op, rate, grid in self.operations:
            b = Branch(op, -1, rate, grid)
            key = self._op_key(b)
            if key in mods:
                continue
            if op == CONV1X1:
                mods[key] = ConvModule(cin, self.channels, 1,
                                       **self._conv_kwargs)
            elif op == SEP_CONV3X3 and self.space.sharing == 'position':
                mods[key] = RateSharedSeparableConv(
                    cin, self.channels, 3, padding=1, dilation=1,
                    **sep_kwargs)
            elif op == SEP_CONV3X3:
                r = self._rate(b)
                mods[key] = DepthwiseSeparableConvModule(
                    cin, self.channels, 3, padding=r, dilation=r,
                    **sep_kwargs)
            else:
                mods[key] = PyramidPooling(cin, self.channels, grid,
                                           self.align_corners,
                                           **self._conv_kwargs)
        return nn.ModuleDict(mods)

    # --- cells ------------------------------------------------------------
    @property
    def num_branches(self) -> int:
        return self.space.num_branches

    @property
    def num_ops(self) -> int:
        return len(self.operations)

    def check_arch(self, arch: ArchLike) -> Cell:
        """``arch`` as branches, validated against this supernet's space
        (``ValueError`` naming the branch and field that is outside)."""
        cell = parse_cell(getattr(arch, 'branches', arch), self.space.rates,
                          self.space.grids)
        if len(cell) != self.num_branches:
            raise ValueError(f'DPCSupernet: the cell has {len(cell)} '
                             f'branches, the supernet {self.num_branches}')
        for i, b in enumerate(cell):
            if b.op not in self.space.ops:
                raise ValueError(f'DPC spec: branch {i}: field \'op\': '
                                 f'{b.op} is not in this supernet\'s space '
                                 f'{self.space.ops}')
        return cell

    @property
    def fair_window(self) -> int:
        """Steps in which ``sampling='fair'`` puts every module of every
        position on the path equally often (windows start at its
        multiples): the least common multiple of the positions' module
        counts."""
        return self._fair_window

    def sample(self, seed: int, iteration: int,
               sampling: str = 'uniform') -> Cell:
        """The training cell of ``(seed, iteration)``: uniform over cells
        (:func:`sample_cell`) or strictly fair over modules (module docs);
        either derives from the pair alone, so a resumed run continues the
        same sequence."""
        if sampling == 'uniform':
            return sample_cell(self.operations, self.num_branches, seed,
                               iteration)
        check_sampling(sampling, 'DPCSupernet')
        window, step = divmod(iteration, self._fair_window)
        rng = random.Random(f'dpc-supernet-fair/{seed}/{iteration}')
        cell = []
        for i, kinds in enumerate(self.branches):
            # a seeded order per window, each module fair_window / m times
            modules = [(kind, key) for kind, mods in kinds.items()
                       for key in mods]
            order = modules * (self._fair_window // len(modules))
            random.Random(f'dpc-supernet-fair/{seed}/{window}/{i}').shuffle(
                order)
            kind, key = order[step]
            op, rate, grid = rng.choice(self._ops_of_key[key])
            inp = -1 if kind == FEATURE else rng.randrange(i)
            cell.append(Branch(op, inp, rate, grid))
        return tuple(cell)

    def branch_module(self, position: int, branch: Branch) -> nn.Module:
        """The module computing ``branch`` at ``position``."""
        kind = FEATURE if branch.input < 0 else BRANCH
        return self.branches[position][kind][self._op_key(branch)]

    def branch_forward(self, position: int, branch: Branch,
                       x: torch.Tensor) -> torch.Tensor:
        """``Y_position`` of ``branch`` on its input ``x``."""
        module = self.branch_module(position, branch)
        if isinstance(module, RateSharedSeparableConv):
            return module(x, self._rate(branch))
        return module(x)

    def branch_outputs(self, x: torch.Tensor,
                       arch: ArchLike) -> List[torch.Tensor]:
        """Outputs ``Y_0 .. Y_{B-1}`` of the cell's branches."""
        outs: List[torch.Tensor] = []
        for i, b in enumerate(self.check_arch(arch)):
            outs.append(self.branch_forward(
                i, b, x if b.input < 0 else outs[b.input]))
        return outs

    def forward(self, x: torch.Tensor, arch: ArchLike) -> torch.Tensor:
        """What ``DensePredictionCell(arch)`` computes with this path's
        weights."""
        return self.project(self.dropout(torch.cat(
            self.branch_outputs(x, arch), 1)))

    # --- the projection by parts (for scoring many cells) ---------------
    def project_part(self, position: int, y: torch.Tensor) -> torch.Tensor:
        """The projection conv applied to one branch's output: the slice of
        its weights that reads position ``position`` of the concatenation.
        The parts of a cell's branches sum to the projection conv's output
        (before its norm and activation), so a branch's part can be reused
        by every cell that shares the branch."""
        c = self.channels
        w = self.project.conv.weight[:, position * c:(position + 1) * c]
        return F.conv2d(y, w)

    def project_finish(self, total: torch.Tensor) -> torch.Tensor:
        """The projection's norm and activation on the summed parts
        (dropout is the identity in eval mode, where parts are used)."""
        proj = self.project
        if proj.conv.bias is not None:
            total = total + proj.conv.bias.view(1, -1, 1, 1)
        if proj.with_norm:
            total = proj.norm(total)
        if proj.with_activation:
            total = proj.activate(total)
        return total

    # --- weights of one path -------------------------------------------
    def path_state_dict(self, arch: ArchLike) -> 'OrderedDict[str, Any]':
        """The path's weights and BN statistics under the keys of
        ``DensePredictionCell(arch)`` (``branches.i.*``, ``project.*``),
        detached copies."""
        out: 'OrderedDict[str, Any]' = OrderedDict()
        for i, b in enumerate(self.check_arch(arch)):
            for k, v in self.branch_module(i, b).state_dict().items():
                out[f'branches.{i}.{k}'] = v.detach().clone()
        for k, v in self.project.state_dict().items():
            out[f'project.{k}'] = v.detach().clone()
        return out

    # --- the space travels with the weights ------------------------------
    def get_extra_state(self) -> Dict[str, Any]:
        return self.space.to_dict()

    def set_extra_state(self, state: Dict[str, Any]) -> None:
        theirs = SupernetSpace.from_dict(state)
        diff = self.space.differences(theirs)
        if diff:
            raise ValueError(
                'DPCSupernet: the checkpoint holds a supernet of another '
                'space (this supernet vs the checkpoint: ' + '; '.join(diff)
                + '): build the supernet with the space it was trained on')
