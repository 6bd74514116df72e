"""The proxy (DPC on cached features) against the full model, and a short
proxy training run through the Runner."""
import json

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import load_checkpoint
from mmseg.registry import DATASETS, MODELS

from mmseg_dpc.datasets import CachedFeatureDataset
from mmseg_dpc.feature_cache import FeatureCacheWriter, cache_features

from ..conftest import DEMO_CONFIG, REPO, run_tool

PROXY_CONFIG = (REPO + '/configs/proxy/'
                'dpc-proxy_mobilenet-v2-d16_1xb8-1k_synthetic-shapes-128x128.py')


def full_cfg(root, decoder):
    cfg = Config.fromfile(DEMO_CONFIG)
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = root
    cfg.model.auxiliary_head = None
    if not decoder:
        cfg.model.decode_head.c1_in_channels = 0
    return cfg


@pytest.mark.parametrize('decoder', [False, True],
                         ids=['dpc', 'dpc+decoder'])
def test_proxy_logits_equal_full_model_logits(tmp_path, shapes_root,
                                              decoder):
    torch.manual_seed(0)
    cfg = full_cfg(shapes_root, decoder)
    full = MODELS.build(cfg.model)
    # non-trivial BN statistics, so eval mode is tested for real
    for m in full.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    ckpt = tmp_path / 'full.pth'
    torch.save({'state_dict': full.state_dict()}, ckpt)
    levels = [0, 3] if decoder else [3]
    cache_features(cfg, 'val', str(tmp_path / 'cache'), checkpoint=str(ckpt),
                   levels=levels, dtype='float32', device='cpu',
                   progress=False)

    head = cfg.model.decode_head.copy()
    head.in_index = len(levels) - 1
    head.c1_in_index = 0
    proxy = MODELS.build(dict(type='CachedFeatureSegmentor',
                              decode_head=head, test_cfg=dict(mode='whole')))
    load_checkpoint(proxy, str(ckpt), map_location='cpu', strict=False)
    full.eval(), proxy.eval()

    images = DATASETS.build(cfg.val_dataloader.dataset)
    feats = CachedFeatureDataset(str(tmp_path / 'cache'), 'val',
                                 test_mode=True)
    assert len(images) == len(feats) == 8
    with torch.no_grad():
        img_batch = full.data_preprocessor(
            pseudo_collate([images[i] for i in range(4)]), False)
        feat_batch = proxy.data_preprocessor(
            pseudo_collate([feats[i] for i in range(4)]), False)
        metas = [s.metainfo for s in img_batch['data_samples']]
        a = full.encode_decode(img_batch['inputs'], metas)
        b = proxy.encode_decode(feat_batch['inputs'], metas)
        preds = proxy.predict(feat_batch['inputs'],
                              feat_batch['data_samples'])
    assert a.shape == b.shape == (4, 5, 128, 128)
    torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)
    labels = [s.gt_sem_seg.data for s in img_batch['data_samples']]
    for p, lab in zip(preds, labels):
        torch.testing.assert_close(p.gt_sem_seg.data, lab)
        assert p.pred_sem_seg.data.shape == (1, 128, 128)


def _toy_cache(root, stride=4):
    """Features whose values are their column index; labels likewise."""
    w = FeatureCacheWriter(str(root / 'train'), {'toy': 1},
                           dict(split='train', output_stride=stride,
                                classes=['a'], palette=[[0, 0, 0]]),
                           count=3, shard_size=2)
    cols = np.arange(6, dtype=np.float16)
    feat = np.broadcast_to(cols, (3, 2, 5, 6)).copy()
    label = np.broadcast_to(np.arange(6 * stride, dtype=np.uint8) // stride,
                            (3, 5 * stride, 6 * stride)).copy()
    w.write_shard(0, [feat[:2]], label[:2])
    w.write_shard(1, [feat[2:]], label[2:])


@pytest.mark.parametrize('device', [None, 'cpu'], ids=['mmap', 'resident'])
def test_crop_and_flip_keep_features_and_labels_aligned(tmp_path, device):
    _toy_cache(tmp_path)
    ds = CachedFeatureDataset(str(tmp_path), 'train', crop_size=(3, 4),
                              flip_prob=0.5, device=device)
    flips = set()
    np.random.seed(0)
    for i in range(30):
        item = ds[i % 3]
        f = item['inputs'][0]
        lab = item['data_samples'].gt_sem_seg.data[0]
        assert f.shape == (2, 3, 4) and lab.shape == (12, 16)
        # every label pixel's column equals its feature cell's value
        cell_cols = f[0, 0].repeat_interleave(4).to(torch.long)
        assert torch.equal(lab[0], cell_cols)
        flips.add(item['data_samples'].flip)
    assert flips == {True, False}


def test_test_mode_is_deterministic_and_uncropped(tmp_path):
    _toy_cache(tmp_path)
    ds = CachedFeatureDataset(str(tmp_path), 'train', crop_size=(3, 4),
                              test_mode=True)
    a, b = ds[0], ds[0]
    assert a['inputs'][0].shape == (2, 5, 6)
    assert torch.equal(a['inputs'][0], b['inputs'][0])
    assert a['data_samples'].flip is False


def test_cache_then_train_proxy(tmp_path, shapes_root):
    cache = tmp_path / 'cache'
    run_tool('tools/cache_features.py', DEMO_CONFIG, '--out', str(cache),
             '--levels', '3', '--cfg-options',
             f'train_dataloader.dataset.data_root={shapes_root}',
             f'val_dataloader.dataset.data_root={shapes_root}')
    work = tmp_path / 'work'
    run_tool('tools/train.py', PROXY_CONFIG, '--work-dir', str(work),
             '--cfg-options', 'train_cfg.max_iters=6',
             'train_cfg.val_interval=6', 'default_hooks.checkpoint.interval=6',
             f'train_dataloader.dataset.data_root={cache}',
             f'val_dataloader.dataset.data_root={cache}',
             f'test_dataloader.dataset.data_root={cache}')
    scalars = next(work.glob('*/vis_data/scalars.json')).read_text()
    val = [json.loads(line) for line in scalars.splitlines()
           if 'mIoU' in line]
    assert len(val) == 1 and 0 <= val[0]['mIoU'] <= 100
    assert (work / 'iter_6.pth').exists()


def test_proxy_config_names_its_cache():
    from mmseg_dpc.feature_cache import resolve_cache_config
    cfg = Config.fromfile(PROXY_CONFIG)
    source, levels, out = resolve_cache_config(cfg)
    assert levels == [3] and out == cfg.cache_root
    assert source.model.backbone.type == 'MobileNetV2'
    assert cfg.model.decode_head.in_channels == 160


def test_misspelt_dataset_argument_is_an_error(tmp_path):
    _toy_cache(tmp_path)
    with pytest.raises(TypeError, match='flip_prop'):
        CachedFeatureDataset(str(tmp_path), 'train', flip_prop=0.5)
