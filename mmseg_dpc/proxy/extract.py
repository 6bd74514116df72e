"""Run a model config's backbone over a data set split once and cache the
features the decode head reads (``tools/cache_features.py``)."""
from __future__ import annotations

import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.utils import ProgressBar
from mmseg.registry import DATASETS, MODELS
from torch.utils.data import DataLoader, Subset

from .feature_cache import FeatureCacheWriter, file_sha256, source_hash

DEFAULT_CACHE_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


def head_levels(cfg: Config) -> List[int]:
    """Backbone outputs the decode head reads: its ``in_index`` and, with a
    DeepLabv3+ decoder, ``c1_in_index``."""
    head = cfg.model.decode_head
    idx = head.get('in_index', -1)
    levels = list(idx) if isinstance(idx, (list, tuple)) else [idx]
    if head.get('c1_in_channels', 0):
        levels.insert(0, head.get('c1_in_index', 0))
    return levels


def resolve_cache_config(cfg: Config):
    """``(source config, levels, cache dir)`` of a proxy config (a
    ``CachedFeatureSegmentor`` naming ``feature_source``, ``feature_levels``
    and ``cache_root``), or ``(cfg, None, None)`` for a full model config."""
    if cfg.model.get('type') != 'CachedFeatureSegmentor':
        return cfg, None, None
    for key in ('feature_source', 'feature_levels', 'cache_root'):
        if key not in cfg:
            raise ValueError(f'proxy config {cfg.filename} lacks {key!r}')
    source = Config.fromfile(cfg.feature_source)
    if 'cache_pipeline' in cfg:
        source.cache_pipeline = cfg.cache_pipeline
    return source, list(cfg.feature_levels), cfg.cache_root


def _with_pipeline(ds_cfg, pipeline):
    """Set ``pipeline`` on a data set config, or on each of a
    ``ConcatDataset``'s."""
    ds_cfg = ds_cfg.copy()
    if ds_cfg.get('type') == 'ConcatDataset':
        ds_cfg.datasets = [_with_pipeline(d, pipeline)
                           for d in ds_cfg.datasets]
    else:
        ds_cfg.pipeline = pipeline
    return ds_cfg


def feature_source(cfg: Config, levels: Sequence[int], dtype: str) -> dict:
    """What determines the cached features; its hash names the cache."""
    return dict(
        backbone=cfg.model.backbone.to_dict(),
        neck=cfg.model.get('neck') and cfg.model.neck.to_dict(),
        data_preprocessor=cfg.model.data_preprocessor.to_dict(),
        pipeline=[dict(p) for p in cfg.get('cache_pipeline',
                                           DEFAULT_CACHE_PIPELINE)],
        levels=list(levels),
        dtype=dtype)


def config_source_hash(cfg: Config, levels: Optional[Sequence[int]] = None,
                       dtype: str = 'float16') -> str:
    """The source hash a cache of ``cfg`` carries in its manifest."""
    return source_hash(feature_source(cfg, levels or head_levels(cfg),
                                      dtype))


def cache_features(cfg: Config,
                   split: str,
                   out: str,
                   checkpoint: Optional[str] = None,
                   levels: Optional[Sequence[int]] = None,
                   dtype: str = 'float16',
                   shard_size: int = 64,
                   batch_size: int = 8,
                   num_workers: int = 0,
                   device: Optional[str] = None,
                   progress: bool = True,
                   init_seed: int = 0) -> str:
    """Cache ``split`` of ``cfg`` into ``out/split``; returns that dir.

    Resumable: shards already written (and intact) are kept as they are.
    Without ``checkpoint`` the model is initialised from ``init_seed``.
    """
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    levels = list(levels) if levels is not None else head_levels(cfg)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    loader_cfg = cfg.get(f'{split}_dataloader')
    if loader_cfg is None:
        raise ValueError(f'config has no {split}_dataloader')
    ds_cfg = _with_pipeline(loader_cfg.dataset,
                            cfg.get('cache_pipeline', DEFAULT_CACHE_PIPELINE))
    dataset = DATASETS.build(ds_cfg)
    if len(dataset) == 0:
        raise ValueError(f'{split} split of {ds_cfg.get("data_root")} is '
                         'empty')

    # Without a checkpoint the weights come from a fixed seed, so that a
    # resumed run computes the same features as the run it continues.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = MODELS.build(cfg.model)
        model.init_weights()
    ckpt_hash = f'none (init seed {init_seed})'
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=False)
        ckpt_hash = file_sha256(checkpoint)
    model.to(device).eval()
    stride = _output_stride(model, levels, cfg, dataset)

    source = feature_source(cfg, levels, dtype)
    meta = dict(split=split, checkpoint=checkpoint,
                checkpoint_sha256=ckpt_hash,
                dataset=dict(type=ds_cfg.type,
                             data_root=ds_cfg.get('data_root'),
                             data_prefix=ds_cfg.get('data_prefix')),
                classes=list(dataset.metainfo['classes']),
                palette=[list(p) for p in dataset.metainfo['palette']],
                output_stride=stride,
                img_paths=[dataset.get_data_info(i)['img_path']
                           for i in range(len(dataset))])
    split_dir = osp.join(out, split)
    writer = FeatureCacheWriter(split_dir, source, meta, len(dataset),
                                shard_size)
    done = writer.done_shards(verify=True)
    todo = [k for k in range(writer.num_shards) if k not in done]
    bar = ProgressBar(sum(len(writer.shard_range(k)) for k in todo)) \
        if progress and todo else None
    np_dtype = np.dtype(dtype)
    for k in todo:
        loader = DataLoader(Subset(dataset, list(writer.shard_range(k))),
                            batch_size=batch_size, num_workers=num_workers,
                            collate_fn=pseudo_collate, shuffle=False)
        feats: List[List[np.ndarray]] = [[] for _ in levels]
        labels: List[np.ndarray] = []
        with torch.no_grad():
            for data in loader:
                data = model.data_preprocessor(data, training=False)
                outs = model.extract_feat(data['inputs'])
                for j, lv in enumerate(levels):
                    feats[j].append(outs[lv].cpu().numpy().astype(np_dtype))
                for s in data['data_samples']:
                    labels.append(
                        s.gt_sem_seg.data[0].cpu().numpy().astype(np.uint8))
                if bar:
                    for _ in range(len(data['data_samples'])):
                        bar.update()
        try:
            label_arr = np.stack(labels)
        except ValueError as e:
            raise ValueError(
                f'{split}: images differ in size; add a Resize/crop to '
                f'cache_pipeline so every sample has one shape ({e})') from e
        writer.write_shard(k, [np.concatenate(f) for f in feats], label_arr)
    if bar:
        print()
    return split_dir


def _output_stride(model, levels, cfg, dataset) -> int:
    """Pixels per cell of the head's main level, measured on one sample."""
    data = pseudo_collate([dataset[0]])
    with torch.no_grad():
        data = model.data_preprocessor(data, training=False)
        outs = model.extract_feat(data['inputs'])
    h = data['inputs'].shape[-2]
    return max(1, round(h / outs[levels[-1]].shape[-2]))
