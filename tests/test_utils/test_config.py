"""Config file paths inside configs resolve as ``_base_`` does, then from
the working directory, then (``configs/...``) among the shipped configs; a
missing one names its key and where it looked."""
import os

import pytest
from mmengine.config import Config

from mmseg_dpc.utils.config import resolve_config_path, shipped_configs_dir

from ..conftest import REPO

PROXY = (f'{REPO}/configs/proxy/'
         'dpc-proxy_mobilenet-v2-d16_1xb8-1k_synthetic-shapes-128x128.py')


def test_paths_resolve_next_to_the_config_then_in_the_cwd(tmp_path,
                                                          monkeypatch):
    sub = tmp_path / 'configs'
    sub.mkdir()
    (sub / 'proxy.py').write_text(f'_base_ = [{PROXY!r}]\n')
    (sub / 'search.py').write_text(
        "proxy_config = 'proxy.py'\n"
        "rerank = dict(full_config='configs/dpc/"
        "dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py')\n")
    monkeypatch.chdir(REPO)
    cfg = Config.fromfile(str(sub / 'search.py'))
    assert resolve_config_path(cfg, 'proxy_config') == str(sub / 'proxy.py')
    assert resolve_config_path(cfg, 'rerank.full_config') == os.path.join(
        REPO, 'configs/dpc/'
        'dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py')
    monkeypatch.chdir(tmp_path)  # next to the config still works
    assert resolve_config_path(cfg, 'proxy_config') == str(sub / 'proxy.py')
    # a shipped config from anywhere: the package's copy (or link)
    assert resolve_config_path(cfg, 'rerank.full_config') == os.path.join(
        shipped_configs_dir(),
        'dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py')
    cfg.rerank.full_config = 'configs/dpc/not-shipped.py'
    with pytest.raises(ValueError) as e:
        resolve_config_path(cfg, 'rerank.full_config')
    msg = str(e.value)
    assert msg.startswith('rerank.full_config (in ')
    assert str(sub / 'configs/dpc') in msg  # next to the config
    assert str(tmp_path / 'configs/dpc') in msg  # the working directory
    assert os.path.join(shipped_configs_dir(), 'dpc') in msg  # shipped


def test_feature_source_resolves_from_the_proxy_config(tmp_path,
                                                       monkeypatch):
    from mmseg_dpc.feature_cache import resolve_cache_config
    demo = (f'{REPO}/configs/dpc/'
            'dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py')
    (tmp_path / 'source.py').write_text(f'_base_ = [{demo!r}]\n')
    (tmp_path / 'proxy.py').write_text(
        f"_base_ = [{PROXY!r}]\nfeature_source = 'source.py'\n")
    monkeypatch.chdir('/')
    source, levels, _ = resolve_cache_config(
        Config.fromfile(str(tmp_path / 'proxy.py')))
    assert source.filename == str(tmp_path / 'source.py') and levels == [3]
    (tmp_path / 'proxy.py').write_text(
        f"_base_ = [{PROXY!r}]\nfeature_source = 'nowhere.py'\n")
    with pytest.raises(ValueError, match="feature_source .*'nowhere.py' "
                       'not found; tried'):
        resolve_cache_config(Config.fromfile(str(tmp_path / 'proxy.py')))
