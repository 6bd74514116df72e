"""Proxy vs full task, measured in one run on this machine.

    python tools/benchmarks/proxy_speed.py [--iters 20] [--rounds 3]

1. One training iteration (forward, backward, SGD step) of the proxy (DPC
   head on cached features) vs the full model at the demo settings, same
   batch and crop: (a) the same backbone and DPC head, nothing else; (b) the
   full task's model as its config has it (DPC + DeepLabv3+ decoder +
   auxiliary FCN head), which is what the proxy replaces during a search.
2. Producing one training batch from the cache (memory-mapped read, crop,
   flip, collate, preprocess) vs from images (decode PNGs and labels, random
   resize, crop, flip, photometric distortion, collate, preprocess): the
   image pipeline the cache replaces.

Rounds alternate the two sides, so machine noise hits both alike; the
figures are medians over rounds.
"""
import argparse
import statistics
import tempfile
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

import mmseg_dpc  # noqa: F401
from mmseg_dpc.datasets import CachedFeatureDataset, generate_synthetic_shapes
from mmseg_dpc.proxy import cache_features

DEMO = 'configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py'


def per_call(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--iters', type=int, default=20)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='overrides of the demo config')
    p.add_argument('--channels', type=int,
                   help='head width (default: the demo config\'s)')
    a = p.parse_args()
    init_default_scope('mmseg')
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp(prefix='proxy_speed_')
    generate_synthetic_shapes(f'{tmp}/data', num_train=64, num_val=8)

    cfg = Config.fromfile(DEMO)
    if a.cfg_options:
        cfg.merge_from_dict(a.cfg_options)
    if a.channels:
        cfg.model.decode_head.channels = a.channels
    task = MODELS.build(cfg.model).train()  # (b) the full task's model
    cfg.model.auxiliary_head = None
    cfg.model.decode_head.c1_in_channels = 0  # the proxy's head: DPC alone
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = f'{tmp}/data'
    cache_features(cfg, 'train', f'{tmp}/cache', levels=[3], device='cpu',
                   progress=False)

    full = MODELS.build(cfg.model).train()
    head = cfg.model.decode_head.copy()
    head.in_index = 0
    proxy = MODELS.build(dict(type='CachedFeatureSegmentor',
                              decode_head=head)).train()
    proxy.decode_head.load_state_dict(full.decode_head.state_dict())
    optim = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
    full_opt = build_optim_wrapper(full, optim)
    task_opt = build_optim_wrapper(task, optim)
    proxy_opt = build_optim_wrapper(proxy, optim)

    images = DATASETS.build(cfg.train_dataloader.dataset)
    feats = CachedFeatureDataset(f'{tmp}/cache', 'train', flip_prob=0.5)
    b = a.batch_size
    k = {'img': 0, 'feat': 0}

    def image_batch():
        i = k['img'] = (k['img'] + b) % (len(images) - b)
        return full.data_preprocessor(
            pseudo_collate([images[j] for j in range(i, i + b)]), True)

    def feature_batch():
        i = k['feat'] = (k['feat'] + b) % (len(feats) - b)
        return proxy.data_preprocessor(
            pseudo_collate([feats[j] for j in range(i, i + b)]), True)

    img_data, feat_data = image_batch(), feature_batch()
    steps = {
        'full train iteration, same head': lambda: full_opt.update_params(
            full.parse_losses(full.loss(**img_data))[0]),
        'full task train iteration': lambda: task_opt.update_params(
            task.parse_losses(task.loss(**img_data))[0]),
        'proxy train iteration': lambda: proxy_opt.update_params(
            proxy.parse_losses(proxy.loss(**feat_data))[0]),
        'image batch (decode + augment)': image_batch,
        'cached batch (mmap + crop/flip)': feature_batch,
    }
    for fn in steps.values():  # warm-up
        fn()
    times = {name: [] for name in steps}
    for _ in range(a.rounds):
        for name, fn in steps.items():
            times[name].append(per_call(fn, a.iters))
    med = {name: statistics.median(t) for name, t in times.items()}

    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'batch {b}, crop 128x128, MobileNetV2 '
          f'x{cfg.model.backbone.widen_factor} OS 16, released cell, '
          f'{cfg.model.decode_head.channels} head channels')
    for name, t in med.items():
        print(f'  {name:36s} {t * 1e3:9.2f} ms')
    proxy = med['proxy train iteration']
    same = med['full train iteration, same head'] / proxy
    task = med['full task train iteration'] / proxy
    ld = (med['image batch (decode + augment)'] /
          med['cached batch (mmap + crop/flip)'])
    print(f'proxy iteration speed-up vs same backbone+head: {same:6.1f}x')
    print(f'proxy iteration speed-up vs full task model:    {task:6.1f}x  '
          '(target >= 10x)')
    print(f'cache loading speed-up:                          {ld:6.1f}x  '
          '(target >= 5x)')


if __name__ == '__main__':
    main()
