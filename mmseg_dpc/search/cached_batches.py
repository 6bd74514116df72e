"""Batches of cached features held in memory, for the cheap stages that
score many cells on the same maps (one-shot scoring, zero-cost scores)."""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch

from ..datasets.cached_features import CachedFeatureDataset
from ..feature_cache import expect_cache_source


@dataclass(frozen=True)
class FeatureBatch:
    """Maps of one cached split: the decode head's input level and labels,
    stacked (every map of a cache has one size)."""
    #: ``[N, C, h, w]`` float32 features (the level the head reads)
    inputs: torch.Tensor
    #: ``[N, H, W]`` int64 labels (255: ignored)
    labels: torch.Tensor
    #: indices of the maps in their split
    indices: tuple

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def chunks(self, size: int) -> List['FeatureBatch']:
        """Consecutive batches of ``size`` maps (the last may be smaller)."""
        return [FeatureBatch(self.inputs[i:i + size],
                             self.labels[i:i + size],
                             self.indices[i:i + size])
                for i in range(0, len(self), size)]


def split_size(cfg, loader: str = 'train_dataloader') -> int:
    """How many maps the cached split of ``loader`` holds (its manifest
    read, no map loaded); ``ValueError`` where it reads no cached
    features."""
    ds_cfg = copy.deepcopy((cfg.get(loader) or {}).get('dataset'))
    if ds_cfg is None or ds_cfg.get('type') != 'CachedFeatureDataset':
        raise ValueError(f'{loader} of {cfg.filename} reads no '
                         f'CachedFeatureDataset: a proxy config is needed')
    ds_cfg.pop('type')
    ds_cfg.update(test_mode=True)
    return len(CachedFeatureDataset(**ds_cfg))


def load_feature_batch(cfg,
                       loader: str = 'train_dataloader',
                       num: Optional[int] = None,
                       seed: Optional[int] = None,
                       device: str = 'cpu') -> FeatureBatch:
    """``num`` maps of the cached split that proxy config ``cfg`` reads in
    ``loader``, without augmentation: the first ``num`` (all by default), or
    ``num`` drawn uniformly without replacement by ``seed``. The cache must
    be the one the config expects (source and checkpoint), as for training.

    Raises:
        ValueError: the loader reads no cached features, or ``num`` is not
            in ``1..len(split)``.
    """
    cfg = expect_cache_source(copy.deepcopy(cfg))
    ds_cfg = copy.deepcopy((cfg.get(loader) or {}).get('dataset'))
    if ds_cfg is None or ds_cfg.get('type') != 'CachedFeatureDataset':
        raise ValueError(f'{loader} of {cfg.filename} reads no '
                         f'CachedFeatureDataset: a proxy config is needed')
    ds_cfg.pop('type')
    ds_cfg.update(test_mode=True)
    dataset = CachedFeatureDataset(**ds_cfg)
    n = len(dataset)
    if num is None:
        num = n
    if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= n:
        raise ValueError(f'{loader}: asked for {num!r} maps, the split '
                         f'{ds_cfg["split"]!r} holds {n}')
    indices: Sequence[int] = (range(num) if seed is None else sorted(
        random.Random(seed).sample(range(n), num)))
    level = cfg.model.decode_head.get('in_index', -1)
    if not isinstance(level, int):
        raise ValueError('load_feature_batch: the head reads several levels '
                         f'(in_index {level!r}); one is supported')
    feats, labels = [], []
    for i in indices:
        item = dataset[i]
        feats.append(item['inputs'][level].float())
        labels.append(item['data_samples'].gt_sem_seg.data[0].long())
    return FeatureBatch(torch.stack(feats).to(device),
                        torch.stack(labels).to(device), tuple(indices))
