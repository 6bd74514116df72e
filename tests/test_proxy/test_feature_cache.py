"""Feature cache: build, resume, corruption and mismatch handling."""
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from mmseg_dpc.proxy import (CacheError, FeatureCache, FeatureCacheWriter,
                             cache_features, config_source_hash)

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
    assert 'shard 2: shard_00002.feat0.npy is corrupt' in capsys.readouterr().out
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
