"""The configs of the guide to searching on one's own data set
(docs/en/user_guides/2_search_your_dataset.md), and the config and tool
paths the docs name."""
import glob
import os.path as osp
import re
import shutil

import pytest
import torch
from mmengine.config import Config

from mmseg_dpc.utils.config import find_config, resolve_config_path

from .conftest import REPO

DATASET = 'configs/_base_/datasets/my_dataset_example.py'
CLASSES = 'configs/_base_/datasets/my_dataset_example_classes.py'
DPC = 'configs/dpc/dpc_mobilenet-v2-d8_1xb4-300_my-dataset-192x192.py'
ASPP = ('configs/deeplabv3plus/'
        'deeplabv3plus_mobilenet-v2-d8_1xb4-300_my-dataset-192x192.py')
PROXY = 'configs/proxy/dpc-proxy_mobilenet-v2-d8_1xb8-1k_my-dataset-192x192.py'
SEARCH = 'configs/search/dpc-search_random-32_my-dataset-192x192.py'
FULL_MODELS = (DPC, ASPP)


def _copy_configs(tmp_path, monkeypatch):
    """The shipped configs in a folder of their own, which becomes the
    working directory (where their ``configs/...`` paths are looked up)."""
    shutil.copytree(osp.join(REPO, 'configs'), tmp_path / 'configs')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _edit(path, old: str, new: str) -> None:
    with open(path) as f:
        text = f.read()
    assert text.count(old) == 1, (path, old)
    with open(path, 'w') as f:
        f.write(text.replace(old, new))


def _loaders_root(cfg: Config) -> set:
    return {cfg[f'{split}_dataloader'].dataset.data_root
            for split in ('train', 'val', 'test')}


@pytest.mark.parametrize('path', FULL_MODELS, ids=osp.basename)
def test_guide_full_models_take_the_data_set(path):
    """The DPC and ASPP configs get data, crop and classes from the data set
    base alone, and their model runs."""
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, path))
    data = Config.fromfile(osp.join(REPO, DATASET))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'crop_size', 'cache_pipeline'):
        assert cfg[key] == data[key], key
    assert cfg.model.data_preprocessor.size == data.crop_size
    assert cfg.model.decode_head.num_classes == data.num_classes == 5
    assert cfg.model.auxiliary_head.num_classes == data.num_classes
    model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64))
    assert out.shape == (1, 5, 16, 16)


def test_changing_the_data_set_base_reaches_every_guide_config(
        tmp_path, monkeypatch):
    """A new data root and a sixth class, written in the data set base and
    its classes file only, reach the DPC, ASPP and proxy configs and,
    through the paths it names, the search config's proxy, full task and
    baselines."""
    from mmseg_dpc.feature_cache import resolve_cache_config
    root = _copy_configs(tmp_path, monkeypatch)
    _edit(root / DATASET, "data_root = 'data/my_dataset'",
          "data_root = 'data/elsewhere'")
    _edit(root / CLASSES, "'box'),", "'box', 'cup'),")
    _edit(root / CLASSES, "[40, 80, 220]]", "[40, 80, 220], [0, 200, 0]]")

    for path in FULL_MODELS:
        cfg = Config.fromfile(str(root / path))
        assert _loaders_root(cfg) == {'data/elsewhere'}, path
        assert cfg.model.decode_head.num_classes == 6, path
        assert cfg.model.auxiliary_head.num_classes == 6, path
        assert cfg.train_dataloader.dataset.metainfo.classes[-1] == 'cup'

    proxy = Config.fromfile(str(root / PROXY))
    assert proxy.model.decode_head.num_classes == 6
    source, _, cache_root = resolve_cache_config(proxy)
    assert source.filename == str(root / DPC)
    assert _loaders_root(source) == {'data/elsewhere'}
    assert _loaders_root(proxy) == {cache_root}  # the proxy reads the cache

    search = Config.fromfile(str(root / SEARCH))
    named = {'proxy_config': PROXY, 'rerank.full_config': DPC,
             'verdict.baselines.mmseg ASPP head': ASPP,
             'verdict.baselines.released top-1 cell': DPC}
    for key, path in named.items():
        assert resolve_config_path(search, key) == str(root / path), key
    searched_proxy = Config.fromfile(resolve_config_path(search,
                                                         'proxy_config'))
    assert searched_proxy.model.decode_head.num_classes == 6


def test_guide_data_set_reads_a_folder(tmp_path):
    """The data set base as shipped reads a folder in mmseg's layout (the
    generated set written there) with its classes; its cache pipeline
    resizes labels with the images."""
    from mmcv.transforms import Compose
    from mmseg.registry import DATASETS

    from mmseg_dpc.datasets import generate_synthetic_shapes
    generate_synthetic_shapes(str(tmp_path), num_train=2, num_val=1,
                              size=192)
    cfg = Config.fromfile(osp.join(REPO, DATASET))
    for split, n in (('train', 2), ('val', 1)):
        ds_cfg = cfg[f'{split}_dataloader'].dataset.copy()
        ds_cfg.data_root = str(tmp_path)
        dataset = DATASETS.build(ds_cfg)
        assert len(dataset) == n
        assert dataset.metainfo['classes'] == cfg.metainfo.classes
    val = dataset
    assert val[0]['inputs'].shape[1:] == (192, 192)
    cached = Compose(cfg.cache_pipeline)(val.get_data_info(0))
    assert cached['data_samples'].gt_sem_seg.data.shape[1:] == \
        cached['inputs'].shape[1:]


def _doc_files():
    return [osp.join(REPO, 'README.md')] + sorted(
        glob.glob(osp.join(REPO, 'docs', '**', '*.md'), recursive=True))


# a config or tool path as the docs write it: no wildcard, no placeholder
PATH = re.compile(r'(?<![\w./-])((?:configs|tools)/[\w./+-]*\w\.py'
                  r'|mmseg_dpc::[\w./+-]*\w\.py)')


def test_every_path_the_docs_name_exists():
    named = {}
    for doc in _doc_files():
        with open(doc) as f:
            for path in PATH.findall(f.read()):
                named.setdefault(path, osp.relpath(doc, REPO))
    assert any(p.startswith('configs/') for p in named)
    missing = [f'{path} (in {doc})' for path, doc in sorted(named.items())
               if not (osp.isfile(osp.join(REPO, path)) if '::' not in path
                       else find_config(path))]
    assert not missing, missing


LINK = re.compile(r'\]\(([^)\s]+)\)')


def _anchors(md_path) -> set:
    """GitHub's anchors of a Markdown file's headings."""
    with open(md_path) as f:
        headings = [line.lstrip('#').strip() for line in f
                    if line.startswith('#')]
    return {re.sub(r'[^\w\- ]', '', h.lower()).replace(' ', '-')
            for h in headings}


def test_every_relative_link_of_the_docs_resolves():
    broken = []
    for doc in _doc_files():
        with open(doc) as f:
            targets = LINK.findall(f.read())
        for target in targets:
            if re.match(r'[a-z]+://', target):
                continue
            path, _, anchor = target.partition('#')
            dest = osp.normpath(osp.join(osp.dirname(doc), path)) if path \
                else doc
            if not osp.exists(dest) or (
                    anchor and anchor not in _anchors(dest)):
                broken.append(f'{target} (in {osp.relpath(doc, REPO)})')
    assert not broken, broken
