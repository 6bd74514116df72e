"""Every shipped config loads and builds its model."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from mmseg_dpc import REGISTERING_MODULES

from .conftest import REPO

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '*', '*.py')))
SEARCH_CONFIGS = [c for c in CONFIGS if '/search/' in c]
CONFIGS = [c for c in CONFIGS if '/_base_/' not in c and c not in
           SEARCH_CONFIGS]


def test_configs_follow_mmseg_naming():
    import re
    pattern = re.compile(r'^[a-z0-9v+-]+_[a-z0-9.-]+_\d+xb\d+-[0-9k]+_'
                         r'[a-z0-9-]+-\d+x\d+\.py$')
    assert len(CONFIGS) >= 18
    for c in CONFIGS:
        assert pattern.match(osp.basename(c)), osp.basename(c)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path):
    cfg = Config.fromfile(path)
    # mmseg's own tools register our modules through the config
    assert set(REGISTERING_MODULES) <= set(cfg.custom_imports['imports'])
    model = MODELS.build(cfg.model)
    head = model.decode_head
    expected = ('DepthwiseSeparableASPPHead' if '/deeplabv3plus/' in path
                else 'DPCSupernetHead' if '/dpc-supernet_' in path
                else 'DPCHead')
    assert type(head).__name__ == expected
    num_classes = {'cityscapes': 19, 'voc12aug': 21, 'person-part': 7,
                   'synthetic-shapes': 5, 'my-dataset': 5}
    ds = next(k for k in num_classes if k in osp.basename(path))
    assert head.num_classes == num_classes[ds]
    if '/proxy/' in path:
        assert type(model).__name__ == 'CachedFeatureSegmentor'
        assert {'feature_source', 'feature_levels', 'cache_root'} <= set(cfg)
        source = Config.fromfile(osp.join(REPO, cfg.feature_source))
        # the proxy's head reads the cached level of the source backbone
        assert source.model.backbone.out_indices[cfg.feature_levels[0]] == 6
        assert head.in_channels == source.model.decode_head.in_channels
    elif 'synthetic' in path:  # small enough to run here
        model.eval()
        with torch.no_grad():
            out = model(torch.zeros(1, 3, 64, 64))
        assert out.shape == (1, 5, 16, 16)  # decoder output, stride 4


@pytest.mark.parametrize('path', SEARCH_CONFIGS, ids=osp.basename)
def test_search_config_loads(path):
    from mmseg_dpc import SEARCH_SPACES
    cfg = Config.fromfile(path)
    space = SEARCH_SPACES.build(cfg.search_space)
    assert space.size > 0 and cfg.num_trials > 0
    proxy = Config.fromfile(osp.join(REPO, cfg.proxy_config))
    assert proxy.model.type == 'CachedFeatureSegmentor'
    full = Config.fromfile(osp.join(REPO, cfg.rerank.full_config))
    assert full.model.decode_head.type == 'DPCHead'
