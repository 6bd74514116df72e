"""Scoring cells with weights inherited from a trained DPC supernet.

A cell's one-shot score is the mIoU on the cached validation split of its
supernet path, after its BatchNorm statistics are re-estimated on K training
batches (SPOS, Guo et al. 2019): what ``DPCHead`` computes with
:func:`export_cell_state_dict`'s weights after
:func:`reestimate_bn_statistics`, as mmseg's ``IoUMetric`` counts it
(unrounded).

Many cells are scored in one process, and most of the work is shared:

- the inputs (K training batches, the validation maps) are loaded once;
- branch i depends only on its chain of ancestors back to F, and so do its
  re-estimated BN statistics (in training mode a BN layer normalises with
  the batch's own statistics, so its output does not depend on the running
  ones). A branch's outputs are memoised by that chain (LRU, a byte budget)
  and reused by every cell that holds the same chain: every branch reading
  F is one of ``num_branches x num_ops`` computations;
- with ``split_projection`` the concat projection is computed by parts (the
  slice of its weights that reads one branch), memoised with the branch,
  so a cell costs a sum, a BN, the classifier and the metric;
- ``order='prefix'`` scores cells sorted by their chains so cells sharing
  a prefix are adjacent while their branches are in the memo.

The knobs are :class:`OneShotOptions`; each keeps the score of a cell
defined as above except ``num_val`` and ``bn_batches`` (fewer maps: a
cheaper, noisier score), which is what they are for: measuring how few
rank as well as many.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import (Callable, Dict, Iterable, Iterator, List, Optional,
                    Sequence, Tuple)

import torch
from mmseg.models.utils import resize

from ..models.decode_heads.dpc_supernet_head import DPCSupernetHead
from ..models.utils.bn_reestimation import reestimate_bn_statistics
from ..models.utils.cell_spec import Branch
from .architecture import Architecture
from .cached_batches import FeatureBatch, load_feature_batch
from .scoring_progress import ScoringProgress
from .space import DPCSearchSpace

ORDERS = ('prefix', 'given')


@dataclass(frozen=True)
class OneShotOptions:
    """How cells are scored (see the module docs).

    Args:
        bn_batches: K, training batches for BN re-estimation.
        bn_batch_size: maps per BN batch (None: the train loader's).
        bn_seed: which training maps form the BN batches (drawn uniformly
            without replacement).
        num_val: validation maps scored (the first ones; None: all).
        eval_batch_size: maps per chunk of the final upsampling and metric
            (bounds the memory of full-resolution logits).
        memo_bytes: budget of the branch memo; 0 computes every branch of
            every cell.
        split_projection: compute the projection by memoised parts.
        order: ``'prefix'`` (shared chains adjacent) or ``'given'``.
    """
    bn_batches: int = 4
    bn_batch_size: Optional[int] = None
    bn_seed: int = 0
    num_val: Optional[int] = None
    eval_batch_size: int = 16
    memo_bytes: int = 1 << 30
    split_projection: bool = True
    order: str = 'prefix'

    def __post_init__(self) -> None:
        for name in ('bn_batches', 'eval_batch_size'):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f'OneShotOptions: {name} must be an int >= '
                                 f'1, got {v!r}')
        for name in ('bn_batch_size', 'num_val'):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool)
                                  or not isinstance(v, int) or v < 1):
                raise ValueError(f'OneShotOptions: {name} must be None or '
                                 f'an int >= 1, got {v!r}')
        if (isinstance(self.memo_bytes, bool)
                or not isinstance(self.memo_bytes, int)
                or self.memo_bytes < 0):
            raise ValueError(f'OneShotOptions: memo_bytes must be an int >= '
                             f'0, got {self.memo_bytes!r}')
        if self.order not in ORDERS:
            raise ValueError(f'OneShotOptions: order must be one of '
                             f'{list(ORDERS)}, got {self.order!r}')


@dataclass(frozen=True)
class OneShotScore:
    """One cell's score: mIoU in percent (unrounded) with inherited
    weights; ``index`` is its place in the sequence given."""
    arch: Architecture
    miou: float
    index: int


@dataclass
class _BranchOutputs:
    """A branch's outputs on the BN batches (training-mode BN) and on the
    validation maps (re-estimated statistics), and their projection parts."""
    train: List[torch.Tensor]
    val: torch.Tensor
    train_part: Optional[List[torch.Tensor]]
    val_part: Optional[torch.Tensor]

    @property
    def nbytes(self) -> int:
        ts = list(self.train) + [self.val] + list(self.train_part or []) + (
            [self.val_part] if self.val_part is not None else [])
        return sum(t.numel() * t.element_size() for t in ts)


ChainKey = Tuple


def check_supernet_space(space: DPCSearchSpace, head: DPCSupernetHead
                         ) -> None:
    """Raise ``ValueError`` naming each way the search space differs from
    the supernet's (a supernet scores only the cells it was trained on)."""
    mine = head.space
    diff = [f'{k} {getattr(space, k)!r} vs {getattr(mine, k)!r}'
            for k in ('num_branches', 'rates', 'grids', 'ops')
            if getattr(space, k) != getattr(mine, k)]
    if diff:
        raise ValueError('the supernet was trained on another space (search '
                         'space vs supernet: ' + '; '.join(diff) + ')')


def label_codes(labels: torch.Tensor, num_classes: int,
                ignore_index: int = 255) -> torch.Tensor:
    """``label * C`` per pixel: a prediction added to it is the pixel's bin
    of a confusion matrix of ``C + 2`` rows, row ``C`` for labels outside
    ``[0, C)`` (mmseg's IoUMetric counts their predictions, not their
    labels) and row ``C + 1`` for ignored pixels (counted nowhere). Made
    once per validation split (int32: half the labels' memory)."""
    c = num_classes
    out = torch.where((labels >= 0) & (labels < c), labels * c,
                      torch.full_like(labels, c * c))
    return torch.where(labels == ignore_index,
                       torch.full_like(labels, (c + 1) * c),
                       out).to(torch.int32)


def miou_of_logits(logits: torch.Tensor, codes: torch.Tensor,
                   num_classes: int, align_corners: bool = False,
                   chunk: int = 16) -> float:
    """mIoU (percent, unrounded) as mmseg's IoUMetric counts it: logits
    upsampled bilinearly to the labels' size, per-class intersection over
    union of the whole split, classes absent from labels and predictions
    left out; ``codes`` from :func:`label_codes`, ``chunk`` maps at a time.

    Written for speed, since one-shot scoring runs it once per cell:
    ``max(1)[1]`` (the first maximum, as ``argmax``; about 13x faster on
    CPU along the class dimension) and one bincount over every pixel
    (boolean indexing of the whole split was most of its cost)."""
    c = num_classes
    bins = (c + 2) * c
    hist = torch.zeros(bins, dtype=torch.long, device=logits.device)
    for i in range(0, logits.shape[0], chunk):
        code = codes[i:i + chunk]
        pred = resize(logits[i:i + chunk], size=code.shape[1:],
                      mode='bilinear', align_corners=align_corners).max(1)[1]
        hist += torch.bincount((code + pred).view(-1), minlength=bins)
    hist = hist.view(c + 2, c).double()
    inter = hist[:c].diag()
    union = hist[:c + 1].sum(0) + hist[:c].sum(1) - inter
    iou = inter[union > 0] / union[union > 0]
    return float(iou.mean() * 100) if iou.numel() else float('nan')


class OneShotScorer:
    """Scores cells with a trained supernet's inherited weights.

    Args:
        head: the trained :class:`DPCSupernetHead` (in eval mode after
            construction; its BN statistics are overwritten while scoring).
        bn_batches: the K training batches for BN re-estimation.
        val: the validation maps.
        options: :class:`OneShotOptions`.
        ignore_index: label value the metric ignores.
    """

    def __init__(self,
                 head: DPCSupernetHead,
                 bn_batches: Sequence[FeatureBatch],
                 val: FeatureBatch,
                 options: OneShotOptions = OneShotOptions(),
                 ignore_index: int = 255) -> None:
        if not isinstance(head, DPCSupernetHead):
            raise ValueError(f'OneShotScorer needs a DPCSupernetHead, got '
                             f'{type(head).__name__}')
        if not bn_batches:
            raise ValueError('OneShotScorer: no BN batches')
        self.head = head.eval()
        self.supernet = head.supernet
        self.options = options
        self.ignore_index = ignore_index
        self.bn_inputs = [b.inputs for b in bn_batches]
        if options.num_val is not None:
            val = FeatureBatch(val.inputs[:options.num_val],
                               val.labels[:options.num_val],
                               val.indices[:options.num_val])
        self.val = val
        self._memo: 'OrderedDict[ChainKey, _BranchOutputs]' = OrderedDict()
        self._memo_bytes = 0
        # the validation labels as confusion-matrix codes, for the metric
        self._codes = label_codes(val.labels, head.out_channels,
                                  ignore_index)
        self.memo_hits = 0
        self.memo_misses = 0

    @classmethod
    def from_config(cls, cfg, checkpoint: str,
                    options: OneShotOptions = OneShotOptions(),
                    device: str = 'cpu') -> 'OneShotScorer':
        """The supernet of proxy config ``cfg`` (a ``DPCSupernetHead``)
        with the weights of ``checkpoint``, its BN batches from the cached
        training split and the validation maps of the cached validation
        split.

        Raises:
            ValueError: the config's head is not a supernet, the checkpoint
                holds a supernet of another space, or the split is smaller
                than asked.
        """
        from mmengine.registry import init_default_scope
        from mmengine.runner import load_checkpoint
        from mmseg.registry import MODELS
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        if cfg.model.decode_head.get('type') != 'DPCSupernetHead':
            raise ValueError(f'{cfg.filename}: decode_head is '
                             f'{cfg.model.decode_head.get("type")!r}, one-shot'
                             ' scoring needs a DPCSupernetHead config')
        model = MODELS.build(cfg.model)
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
        head = model.decode_head.to(device)
        bs = options.bn_batch_size or cfg.train_dataloader.batch_size
        try:
            bn = load_feature_batch(cfg, 'train_dataloader',
                                    options.bn_batches * bs, options.bn_seed,
                                    device)
        except ValueError as e:
            raise ValueError(f'OneShotOptions: bn_batches x bn_batch_size = '
                             f'{options.bn_batches} x {bs}: {e}') from e
        val = load_feature_batch(cfg, 'val_dataloader', options.num_val,
                                 None, device)
        ignore = cfg.get('val_evaluator', {}).get('ignore_index', 255)
        return cls(head, bn.chunks(bs), val, options, ignore)

    # --- branches ----------------------------------------------------------
    def _branch(self, position: int, branch: Branch,
                parent: Optional[Tuple[ChainKey, _BranchOutputs]]
                ) -> Tuple[ChainKey, _BranchOutputs]:
        key = (position, branch.op, branch.rate, branch.grid,
               None if parent is None else parent[0])
        hit = self._memo.get(key)
        if hit is not None:
            self._memo.move_to_end(key)
            self.memo_hits += 1
            return key, hit
        self.memo_misses += 1
        net = self.supernet
        module = net.branch_module(position, branch)
        x_train = self.bn_inputs if parent is None else parent[1].train
        x_val = self.val.inputs if parent is None else parent[1].val
        train: List[torch.Tensor] = []
        reestimate_bn_statistics(
            module, x_train,
            lambda x: train.append(net.branch_forward(position, branch, x)))
        val = net.branch_forward(position, branch, x_val)
        parts = self.options.split_projection
        out = _BranchOutputs(
            train, val,
            [net.project_part(position, y) for y in train] if parts else None,
            net.project_part(position, val) if parts else None)
        self._remember(key, out)
        return key, out

    def _remember(self, key: ChainKey, out: _BranchOutputs) -> None:
        budget = self.options.memo_bytes
        if out.nbytes > budget:
            return
        self._memo[key] = out
        self._memo_bytes += out.nbytes
        while self._memo_bytes > budget:
            _, old = self._memo.popitem(last=False)
            self._memo_bytes -= old.nbytes

    # --- cells -------------------------------------------------------------
    @torch.no_grad()
    def score(self, arch) -> float:
        """mIoU (percent, unrounded) of one cell with inherited weights."""
        cell = self.supernet.check_arch(arch)
        outs: List[Tuple[ChainKey, _BranchOutputs]] = []
        for i, b in enumerate(cell):
            outs.append(self._branch(i, b,
                                     None if b.input < 0 else outs[b.input]))
        net = self.supernet
        branches = [o for _, o in outs]
        if self.options.split_projection:
            train = [sum(o.train_part[k] for o in branches)
                     for k in range(len(self.bn_inputs))]
            reestimate_bn_statistics(net.project, train, net.project_finish)
            feat = net.project_finish(sum(o.val_part for o in branches))
        else:
            train = [torch.cat([o.train[k] for o in branches], 1)
                     for k in range(len(self.bn_inputs))]
            reestimate_bn_statistics(net.project, train)
            feat = net.project(torch.cat([o.val for o in branches], 1))
        return self._miou(self.head.cls_seg(feat))

    def _miou(self, logits: torch.Tensor) -> float:
        return miou_of_logits(logits, self._codes, logits.shape[1],
                              self.head.align_corners,
                              self.options.eval_batch_size)

    def _order(self, cells: List[Tuple[Branch, ...]]) -> List[int]:
        if self.options.order == 'given':
            return list(range(len(cells)))

        def chains(cell):
            out: List[str] = []
            for i, b in enumerate(cell):
                parent = '' if b.input < 0 else out[b.input]
                out.append(f'{parent}/{i}:{b.describe()}')
            return tuple(out)

        keys = [chains(c) for c in cells]
        return sorted(range(len(cells)), key=keys.__getitem__)

    def score_cells(self, cells: Iterable,
                    progress: Optional[Callable[[ScoringProgress], None]]
                    = None) -> Iterator[OneShotScore]:
        """Score every cell (``Architecture`` or anything ``parse_cell``
        accepts), yielding each score as it is done, in the order chosen by
        ``options.order``; ``progress`` is called after each cell. Cells
        outside the supernet's space raise before any is scored."""
        archs = [c if isinstance(c, Architecture) else Architecture(c)
                 for c in cells]
        parsed = [self.supernet.check_arch(a) for a in archs]
        start = time.monotonic()
        hits, misses = self.memo_hits, self.memo_misses
        for done, i in enumerate(self._order(parsed), 1):
            yield OneShotScore(archs[i], self.score(parsed[i]), i)
            if progress is not None:
                progress(ScoringProgress(
                    done, len(archs), time.monotonic() - start,
                    self.memo_hits - hits, self.memo_misses - misses))

    @property
    def memo_size(self) -> Dict[str, int]:
        """Entries and bytes held by the branch memo."""
        return dict(entries=len(self._memo), bytes=self._memo_bytes)
