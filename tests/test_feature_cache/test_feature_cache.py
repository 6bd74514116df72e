"""Feature cache: build, resume, corruption and mismatch handling."""
import glob
import os
import os.path as osp
import time

import numpy as np
import pytest
from mmengine.config import Config

from mmseg_dpc.feature_cache import (CacheError, FeatureCache,
                                     FeatureCacheWriter, cache_features,
                                     config_source_hash)

from ..conftest import DEMO_CONFIG


def demo_cfg(root, **options):
    cfg = Config.fromfile(DEMO_CONFIG)
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = root
    cfg.merge_from_dict(options)
    return cfg


def build(cfg, out, **kw):
    kw.setdefault('levels', [3])
    kw.setdefault('shard_size', 5)
    return cache_features(cfg, 'train', str(out), device='cpu',
                          progress=False, **kw)


def test_cache_layout_and_manifest(tmp_path, shapes_root):
    cfg = demo_cfg(shapes_root)
    split_dir = build(cfg, tmp_path)
    cache = FeatureCache(split_dir)
    m = cache.manifest
    assert m['complete'] and m['count'] == len(cache) == 16
    assert len(m['shards']) == 4  # 5 + 5 + 5 + 1
    assert m['dtype'] == 'float16' and m['split'] == 'train'
    assert m['feature_shapes'] == [[160, 8, 8]]
    assert m['label_shape'] == [128, 128] and m['output_stride'] == 16
    assert m['source_hash'] == config_source_hash(cfg, [3], 'float16')
    assert m['checkpoint_sha256'] == 'none (init seed 0)'
    assert m['classes'][2] == 'plate'
    feats, label = cache[15]
    assert isinstance(feats[0], np.memmap)  # loaded without copying
    assert feats[0].shape == (160, 8, 8) and label.shape == (128, 128)


def test_interrupted_cache_resumes_without_rewriting(tmp_path, shapes_root,
                                                     monkeypatch):
    cfg = demo_cfg(shapes_root)
    original = FeatureCacheWriter.write_shard

    def crash_on_third(self, index, *a, **k):
        if index == 2:
            raise KeyboardInterrupt('simulated interruption')
        return original(self, index, *a, **k)

    monkeypatch.setattr(FeatureCacheWriter, 'write_shard', crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        build(cfg, tmp_path)
    split_dir = tmp_path / 'train'
    with pytest.raises(CacheError, match='incomplete'):
        FeatureCache(str(split_dir))
    finished = {n: os.stat(split_dir / n).st_mtime_ns
                for n in os.listdir(split_dir) if n.startswith('shard_0000')}
    assert set(finished) == {f'shard_0000{k}.{t}.npy' for k in (0, 1)
                             for t in ('feat0', 'label')}

    monkeypatch.setattr(FeatureCacheWriter, 'write_shard', original)
    build(cfg, tmp_path)
    for name, mtime in finished.items():  # never rewritten
        assert os.stat(split_dir / name).st_mtime_ns == mtime
    resumed = FeatureCache(str(split_dir))
    fresh = FeatureCache(build(cfg, tmp_path / 'fresh'))
    assert len(resumed) == len(fresh) == 16
    for i in range(16):
        np.testing.assert_array_equal(resumed[i][0][0], fresh[i][0][0])
        np.testing.assert_array_equal(resumed[i][1], fresh[i][1])


def test_corrupt_shard_is_named_and_rebuilt(tmp_path, shapes_root, capsys):
    cfg = demo_cfg(shapes_root)
    split_dir = build(cfg, tmp_path)
    bad = osp.join(split_dir, 'shard_00002.feat0.npy')
    data = bytearray(open(bad, 'rb').read())
    data[-7] ^= 0xFF
    open(bad, 'wb').write(bytes(data))
    with pytest.raises(CacheError,
                       match=r'shard 2: shard_00002.feat0.npy is corrupt'):
        FeatureCache(split_dir)
    others = {n: os.stat(osp.join(split_dir, n)).st_mtime_ns
              for n in os.listdir(split_dir)
              if n.startswith('shard_') and not n.startswith('shard_00002')}
    build(cfg, tmp_path)  # re-running repairs just that shard
    out = capsys.readouterr().out
    assert 'shard 2: shard_00002.feat0.npy is corrupt' in out
    FeatureCache(split_dir)
    for n, mtime in others.items():
        assert os.stat(osp.join(split_dir, n)).st_mtime_ns == mtime


def test_corrupt_manifest_is_named(tmp_path, shapes_root):
    split_dir = build(demo_cfg(shapes_root), tmp_path)
    with open(osp.join(split_dir, 'manifest.json'), 'w') as f:
        f.write('{"format": 1, "sha')
    with pytest.raises(CacheError, match='manifest.json is corrupt'):
        FeatureCache(split_dir)


def test_cache_of_another_backbone_is_refused(tmp_path, shapes_root):
    build(demo_cfg(shapes_root), tmp_path)
    other = demo_cfg(shapes_root, **{'model.backbone.widen_factor': 0.75,
                                     'model.decode_head.in_channels': 240})
    with pytest.raises(CacheError, match='made with another source_hash'):
        build(other, tmp_path)
    with pytest.raises(CacheError, match='made for another backbone'):
        FeatureCache(str(tmp_path / 'train'),
                     expected_source_hash=config_source_hash(other, [3]))


def test_cache_of_another_checkpoint_is_refused(tmp_path, shapes_root):
    import torch
    from mmseg.registry import MODELS
    cfg = demo_cfg(shapes_root)
    build(cfg, tmp_path)
    ckpt = tmp_path / 'model.pth'
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, ckpt)
    with pytest.raises(CacheError, match='another checkpoint_sha256'):
        build(cfg, tmp_path, checkpoint=str(ckpt))


def test_verified_files_are_not_hashed_again(tmp_path, shapes_root,
                                             monkeypatch):
    """Every trial opens the cache: its files are hashed once, and again
    only when they change (a changed shard is still named)."""
    from mmseg_dpc.feature_cache import storage as feature_cache
    split_dir = build(demo_cfg(shapes_root), tmp_path)
    hashed = []
    sha = feature_cache.file_sha256
    monkeypatch.setattr(feature_cache, 'file_sha256',
                        lambda path: hashed.append(path) or sha(path))
    FeatureCache(split_dir)
    assert len(hashed) == 8  # 4 shards x (features + labels)
    hashed.clear()
    FeatureCache(split_dir)
    FeatureCache(split_dir)
    assert hashed == []
    bad = osp.join(split_dir, 'shard_00001.label.npy')
    data = bytearray(open(bad, 'rb').read())
    data[-3] ^= 0xFF
    time.sleep(0.01)  # a new mtime
    open(bad, 'wb').write(bytes(data))
    with pytest.raises(CacheError, match='shard_00001.label.npy is corrupt'):
        FeatureCache(split_dir)
    assert hashed == [bad]
    with open(bad, 'r+b') as f:  # truncated: another size
        f.truncate(100)
    with pytest.raises(CacheError, match='shard_00001.label.npy is corrupt'):
        FeatureCache(split_dir)


def test_output_stride_comes_from_the_backbone(tmp_path):
    """180 px images give 12 cells at stride 16 (not 180 / 12 = 15), and
    random crops of their features take labels at 16 px per cell."""
    import torch

    from mmseg_dpc.datasets import (CachedFeatureDataset,
                                    generate_synthetic_shapes)
    root = str(tmp_path / 'data')
    generate_synthetic_shapes(root, num_train=2, num_val=1, size=180)
    split_dir = build(demo_cfg(root), tmp_path / 'cache', shard_size=2)
    m = FeatureCache(split_dir).manifest
    assert m['output_stride'] == 16
    assert m['feature_shapes'] == [[160, 12, 12]]
    assert m['label_shape'] == [180, 180]
    full = CachedFeatureDataset(str(tmp_path / 'cache'), 'train',
                                test_mode=True)[0]
    feats, label = full['inputs'][0], full['data_samples'].gt_sem_seg.data[0]
    ds = CachedFeatureDataset(str(tmp_path / 'cache'), 'train',
                              crop_size=(5, 5), flip_prob=0.0)
    np.random.seed(0)
    for _ in range(10):
        item = ds[0]
        crop = item['inputs'][0]
        lab = item['data_samples'].gt_sem_seg.data[0]
        assert crop.shape == (160, 5, 5) and lab.shape == (80, 80)
        (y0, x0), = [(y, x) for y in range(8) for x in range(8)
                     if torch.equal(feats[:, y:y + 5, x:x + 5], crop)]
        region = label[y0 * 16:(y0 + 5) * 16, x0 * 16:(x0 + 5) * 16]
        assert torch.equal(lab[:region.shape[0], :region.shape[1]], region)
        assert (lab[region.shape[0]:] == 255).all()  # beyond the image


SHIPPED_PROXIES = sorted(glob.glob(osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
    'configs', 'proxy', '*.py')))


@pytest.mark.parametrize('proxy', SHIPPED_PROXIES, ids=osp.basename)
def test_shipped_cache_pipelines_keep_labels_aligned(tmp_path, proxy):
    """Each shipped proxy's cache pipeline, on an image whose left part is
    class 1 (red) and right part class 2 (blue): every label pixel still
    lies on its own colour."""
    import mmcv
    from mmcv.transforms import Compose
    from mmengine.registry import init_default_scope

    from mmseg_dpc.feature_cache import cache_pipeline, resolve_cache_config
    init_default_scope('mmseg')
    source, _, _ = resolve_cache_config(Config.fromfile(proxy))
    pipeline = Compose(cache_pipeline(source))
    h, w = 300, 407
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :150] = (0, 0, 255)  # BGR red
    img[:, 150:] = (255, 0, 0)  # BGR blue
    seg = np.full((h, w), 2, np.uint8)
    seg[:, :150] = 1
    mmcv.imwrite(img, str(tmp_path / 'img.png'))
    mmcv.imwrite(seg, str(tmp_path / 'seg.png'))
    out = pipeline(dict(img_path=str(tmp_path / 'img.png'),
                        seg_map_path=str(tmp_path / 'seg.png'),
                        reduce_zero_label=False, seg_fields=[]))
    pixels = out['inputs'].numpy()  # C, H, W (BGR)
    label = out['data_samples'].gt_sem_seg.data[0].numpy()
    assert label.shape == pixels.shape[1:], 'labels and image differ in size'
    red = (pixels[2] > 200) & (pixels[0] < 50)
    blue = (pixels[0] > 200) & (pixels[2] < 50)
    assert red.sum() > 1000 and blue.sum() > 1000
    assert (label[red] == 1).mean() > 0.99
    assert (label[blue] == 2).mean() > 0.99


def test_proxy_training_refuses_a_cache_of_another_checkpoint(
        tmp_path, shapes_root):
    """A cache made from checkpoint A: a proxy config that names no
    checkpoint (or another) is refused, by training and by the search's
    check; naming A is accepted."""
    import torch
    from mmseg.registry import MODELS

    from mmseg_dpc.feature_cache import check_proxy_cache
    from ..conftest import REPO
    cfg = demo_cfg(shapes_root)
    ckpt = tmp_path / 'backbone.pth'
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict()}, ckpt)
    for split in ('train', 'val'):
        cache_features(cfg, split, str(tmp_path / 'cache'), levels=[3],
                       checkpoint=str(ckpt), device='cpu', progress=False)
    proxy = Config.fromfile(osp.join(
        REPO, 'configs/proxy/'
        'dpc-proxy_mobilenet-v2-d16_1xb8-1k_synthetic-shapes-128x128.py'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        proxy[loader].dataset.data_root = str(tmp_path / 'cache')
    with pytest.raises(CacheError, match='another backbone checkpoint'):
        check_proxy_cache(proxy)
    other = tmp_path / 'other.pth'
    torch.save({'state_dict': {}}, other)
    proxy.feature_checkpoint = str(other)
    with pytest.raises(CacheError, match='another backbone checkpoint'):
        check_proxy_cache(proxy)
    proxy.feature_checkpoint = str(ckpt)
    assert check_proxy_cache(proxy) == (160, 8, 8)


def test_the_cache_holds_the_scale_the_full_model_validates_at(
        tmp_path, shapes_root):
    """Without ``cache_pipeline``, the cache takes the ``test_pipeline``'s
    resize (labels resized with the images), not the images' native size;
    a test_pipeline it cannot read is refused, naming the transform."""
    test_pipeline = [dict(type='LoadImageFromFile'),
                     dict(type='Resize', scale=(64, 64), keep_ratio=True),
                     dict(type='LoadAnnotations'),
                     dict(type='PackSegInputs')]
    cfg = demo_cfg(shapes_root)
    cfg.test_pipeline = test_pipeline
    assert 'cache_pipeline' not in cfg
    cache = FeatureCache(build(cfg, tmp_path / 'resized'))
    assert cache.manifest['feature_shapes'] == [[160, 4, 4]]  # 64 px / 16
    assert cache[0][1].shape == (64, 64)
    native = FeatureCache(build(demo_cfg(shapes_root), tmp_path / 'native'))
    assert native.manifest['feature_shapes'] == [[160, 8, 8]]  # 128 px
    assert config_source_hash(cfg, [3]) != config_source_hash(
        demo_cfg(shapes_root), [3])
    cfg.test_pipeline = test_pipeline[:1] + [
        dict(type='RandomFlip', prob=0.5)] + test_pipeline[1:]
    with pytest.raises(ValueError, match='test_pipeline has RandomFlip.*'
                       'set cache_pipeline'):
        build(cfg, tmp_path / 'refused')
