"""Run a model config's backbone over a data set split once and cache the
features the decode head reads (``tools/cache_features.py``)."""
from __future__ import annotations

import copy
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.utils import ProgressBar
from mmseg.registry import DATASETS, MODELS
from torch.utils.data import DataLoader, Subset

from ..utils.config import resolve_config_path
from .storage import (MANIFEST, CacheError, FeatureCache,
                      FeatureCacheWriter, file_sha256, source_hash)

DEFAULT_CACHE_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# the test_pipeline's transforms the cache copies (what fixes the scale the
# full model validates at); any other one needs an explicit cache_pipeline
LOADING = ('LoadImageFromFile', 'LoadAnnotations')
RESIZING = ('Resize', 'ResizeToMultiple', 'ResizeShortestEdge')
PACKING = ('PackSegInputs', )


def cache_pipeline(cfg: Config) -> List[dict]:
    """What each image goes through before the backbone: the config's
    ``cache_pipeline``, or else its ``test_pipeline``'s loading and
    resizing (the scale the full model validates at, no augmentation),
    with the labels loaded before the resize so that they are resized with
    the image; without a ``test_pipeline``, images at their native size.

    A ``test_pipeline`` with any other transform is refused, naming it:
    the cache cannot tell whether it changes the scale."""
    if 'cache_pipeline' in cfg:
        return [dict(t) for t in cfg.cache_pipeline]
    test = cfg.get('test_pipeline')
    if not test:
        return [dict(t) for t in DEFAULT_CACHE_PIPELINE]
    other = [t['type'] for t in test
             if t['type'] not in LOADING + RESIZING + PACKING]
    if other:
        raise ValueError(
            f'{cfg.filename}: its test_pipeline has {", ".join(other)}, '
            'from which the feature cache cannot take the scale the full '
            'model validates at; set cache_pipeline (loading, the resize '
            'of the test_pipeline, PackSegInputs)')

    def of(kinds, default=None):
        found = [dict(t) for t in test if t['type'] in kinds]
        return found or ([dict(type=default)] if default else [])
    return (of(('LoadImageFromFile', ), 'LoadImageFromFile') +
            of(('LoadAnnotations', ), 'LoadAnnotations') + of(RESIZING) +
            of(PACKING, 'PackSegInputs'))


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
    source = Config.fromfile(resolve_config_path(cfg, 'feature_source'))
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
        pipeline=cache_pipeline(cfg),
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
    dataset, ds_cfg = _cache_dataset(cfg, split)
    model = _feature_model(cfg, checkpoint, init_seed, device)
    meta = dict(split=split, checkpoint=checkpoint,
                checkpoint_sha256=checkpoint_digest(checkpoint, init_seed),
                dataset=dict(type=ds_cfg.type,
                             data_root=ds_cfg.get('data_root'),
                             data_prefix=ds_cfg.get('data_prefix')),
                classes=list(dataset.metainfo['classes']),
                palette=[list(p) for p in dataset.metainfo['palette']],
                output_stride=backbone_stride(model, levels[-1], device),
                img_paths=[dataset.get_data_info(i)['img_path']
                           for i in range(len(dataset))])
    split_dir = osp.join(out, split)
    writer = FeatureCacheWriter(split_dir, feature_source(cfg, levels, dtype),
                                meta, len(dataset), shard_size)
    done = writer.done_shards(verify=True)
    todo = [k for k in range(writer.num_shards) if k not in done]
    bar = ProgressBar(sum(len(writer.shard_range(k)) for k in todo)) \
        if progress and todo else None
    for k in todo:
        loader = DataLoader(Subset(dataset, list(writer.shard_range(k))),
                            batch_size=batch_size, num_workers=num_workers,
                            collate_fn=pseudo_collate, shuffle=False)
        feats, labels = _extract(model, loader, levels, np.dtype(dtype), bar)
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


def _cache_dataset(cfg: Config, split: str):
    """``split``'s data set through :func:`cache_pipeline`, and its
    config."""
    loader_cfg = cfg.get(f'{split}_dataloader')
    if loader_cfg is None:
        raise ValueError(f'config has no {split}_dataloader')
    ds_cfg = _with_pipeline(loader_cfg.dataset, cache_pipeline(cfg))
    dataset = DATASETS.build(ds_cfg)
    if len(dataset) == 0:
        raise ValueError(f'{split} split of {ds_cfg.get("data_root")} is '
                         'empty')
    return dataset, ds_cfg


def _feature_model(cfg: Config, checkpoint: Optional[str], init_seed: int,
                   device: str):
    """The model whose backbone makes the features, in eval mode. Without
    a checkpoint the weights come from a fixed seed, so that a resumed run
    computes the same features as the run it continues."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = MODELS.build(cfg.model)
        model.init_weights()
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=False)
    return model.to(device).eval()


def _extract(model, loader, levels: Sequence[int], dtype: np.dtype, bar
             ) -> Tuple[List[List[np.ndarray]], List[np.ndarray]]:
    """The features at ``levels`` (a list of batches each) and the labels
    of one shard's samples."""
    feats: List[List[np.ndarray]] = [[] for _ in levels]
    labels: List[np.ndarray] = []
    with torch.no_grad():
        for data in loader:
            data = model.data_preprocessor(data, training=False)
            outs = model.extract_feat(data['inputs'])
            for j, lv in enumerate(levels):
                feats[j].append(outs[lv].cpu().numpy().astype(dtype))
            for s in data['data_samples']:
                labels.append(
                    s.gt_sem_seg.data[0].cpu().numpy().astype(np.uint8))
            if bar:
                for _ in range(len(data['data_samples'])):
                    bar.update()
    return feats, labels


def backbone_stride(model, level: int, device: str = 'cpu',
                    probe: int = 256) -> int:
    """Pixels per cell of backbone output ``level``, from a ``probe``-pixel
    square input (a multiple of every usual stride, so the division is
    exact; an image's own size is not: 180 px give 12 cells at stride 16)."""
    with torch.no_grad():
        x = torch.zeros(1, 3, probe, probe, device=device)
        cells = model.extract_feat(x)[level].shape[-2]
    if probe % cells:
        raise ValueError(f'backbone level {level}: {probe} px give {cells} '
                         'cells, not a whole stride')
    return probe // cells


_DIGESTS: Dict[tuple, str] = {}


def checkpoint_digest(checkpoint: Optional[str], init_seed: int = 0) -> str:
    """What a cache's manifest records of the weights it was made with
    (hashed once per file version in a process: a search writes a trial
    config per trial)."""
    if not checkpoint:
        return f'none (init seed {init_seed})'
    if not osp.isfile(checkpoint):
        raise ValueError(f'backbone checkpoint not found: {checkpoint}')
    st = os.stat(checkpoint)
    key = (osp.abspath(checkpoint), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_sha256(checkpoint)
    return _DIGESTS[key]


def expected_cache_source(cfg: Config) -> Dict[str, str]:
    """What the cache of proxy config ``cfg`` must have been made from:
    its ``feature_source`` config (backbone, preprocessing, pipeline),
    ``feature_levels``, ``feature_dtype`` and ``feature_checkpoint`` (none:
    the seeded initialisation ``tools/cache_features.py`` uses without
    ``--checkpoint``)."""
    source, levels, _ = resolve_cache_config(cfg)
    return dict(
        expected_source_hash=config_source_hash(
            source, levels, cfg.get('feature_dtype', 'float16')),
        expected_checkpoint_sha256=checkpoint_digest(
            cfg.get('feature_checkpoint')))


LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _cache_datasets(cfg: Config, loaders: Sequence[str] = LOADERS):
    for key in loaders:
        ds = (cfg.get(key) or {}).get('dataset')
        if ds is not None and ds.get('type') == 'CachedFeatureDataset':
            yield key, ds


def expect_cache_source(cfg: Config) -> Config:
    """Make the cached-feature data sets of proxy config ``cfg`` refuse a
    cache made from another source or checkpoint (where the config does
    not say already what it expects). A full model config is unchanged."""
    if cfg.model.get('type') != 'CachedFeatureSegmentor' or \
            'feature_source' not in cfg:
        return cfg
    expected = None
    for _, ds in _cache_datasets(cfg):
        if all(k in ds for k in ('expected_source_hash',
                                 'expected_checkpoint_sha256')):
            continue
        expected = expected or expected_cache_source(cfg)
        for k, v in expected.items():
            ds.setdefault(k, v)
    return cfg


def check_proxy_cache(cfg: Config,
                      loaders: Sequence[str] = LOADERS[:2]
                      ) -> Tuple[int, int, int]:
    """Open the cached splits that proxy config ``cfg`` reads in
    ``loaders`` as its runs will (complete, checksums, source and
    checkpoint), and check that the decode head reads features of its
    ``in_channels``; returns the ``(C, h, w)`` feature shape of the head's
    input. Raises :class:`CacheError` naming what is wrong, before any
    training starts."""
    cfg = expect_cache_source(copy.deepcopy(cfg))
    head = cfg.model.decode_head
    idx = head.get('in_index', -1)
    shape = None
    for key, ds in _cache_datasets(cfg, loaders):
        split_dir = osp.join(ds.data_root, ds.get('split', 'train'))
        try:
            cache = FeatureCache(
                split_dir, verify=ds.get('verify', True),
                expected_source_hash=ds.get('expected_source_hash'),
                expected_checkpoint_sha256=ds.get(
                    'expected_checkpoint_sha256'))
        except CacheError as e:
            raise CacheError(f'{e}\nBuild the proxy feature cache with: '
                             f'python tools/cache_features.py '
                             f'{cfg.filename}') from e
        shapes = cache.manifest['feature_shapes']
        try:
            level_shape = tuple(shapes[idx])
        except IndexError:
            raise CacheError(f'{key}: decode_head.in_index {idx} is out of '
                             f'range: {split_dir} holds {len(shapes)} '
                             'feature levels') from None
        if level_shape[0] != head.in_channels:
            raise CacheError(
                f'{key}: decode_head.in_channels is {head.in_channels}, but '
                f'the feature cache {split_dir} holds {level_shape[0]}-'
                f'channel features (level {idx}): the cache was made from '
                'another backbone, or in_channels is wrong')
        shape = shape or level_shape
    if shape is None:
        raise CacheError(f'{cfg.filename}: {", ".join(loaders)} read no '
                         'CachedFeatureDataset')
    return shape


def cache_manifests(cfg: Config,
                    loaders: Sequence[str] = LOADERS[:2]) -> List[str]:
    """The manifests of the cached splits proxy config ``cfg`` reads in
    ``loaders``: what every machine that runs its trials must see."""
    return [osp.join(ds.data_root, ds.get('split', 'train'), MANIFEST)
            for _, ds in _cache_datasets(cfg, loaders)]
