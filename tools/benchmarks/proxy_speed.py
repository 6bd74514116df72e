"""Proxy vs full task, measured in one run on this machine.

    python tools/benchmarks/proxy_speed.py [--iters 20] [--rounds 3]
        [--model CONFIG]  # another model on the demo's data (default: demo)

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

3. The multiply-add ceiling: caching removes the backbone, so at equal speed
   per multiply-add an iteration gets at most (backbone + head) / head times
   faster (mmengine's counter, forward pass; backward scales both alike).
   It depends on the backbone/head pairing, not on the implementation, and
   says how far the measured speed-up can go.
"""
import argparse
import statistics
import tempfile
import time

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config, DictAction
from mmengine.model import revert_sync_batchnorm
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

import mmseg_dpc
from mmseg_dpc.datasets import CachedFeatureDataset, generate_synthetic_shapes
from mmseg_dpc.feature_cache import cache_features

mmseg_dpc.register_all_modules()  # DPCHead & co. in mmseg's registries

DEMO = 'configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py'


def per_call(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def model_for_demo_data(path: str, demo: Config) -> Config:
    """``path``'s model on the demo's data: 5 classes, the demo's
    preprocessing (the crop), batch norm instead of SyncBN."""
    model = Config.fromfile(path).model
    model.data_preprocessor = demo.model.data_preprocessor
    for head in ('decode_head', 'auxiliary_head'):
        if model.get(head):
            model[head].num_classes = demo.model.decode_head.num_classes
    return model


def multiply_adds(model, crop) -> tuple:
    """Forward multiply-adds of the whole model and of its decode head."""
    x = torch.zeros(1, 3, *crop)
    kw = dict(show_table=False, show_arch=False)
    with torch.no_grad():
        whole = get_model_complexity_info(model.eval(), inputs=(x, ), **kw)
        head = get_model_complexity_info(
            model.decode_head, inputs=(list(model.extract_feat(x)), ), **kw)
    model.train()
    return whole['flops'], head['flops']


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--iters', type=int, default=20)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='overrides of the demo config')
    p.add_argument('--channels', type=int,
                   help='head width (default: the demo config\'s)')
    p.add_argument('--model', default=DEMO,
                   help='config whose model to measure on the demo data, '
                   'e.g. configs/dpc/dpc_mobilenet-v2-d16_8xb2-90k_'
                   'cityscapes-769x769.py (the paper\'s proxy backbone)')
    return p.parse_args()


def build(model_cfg):
    """A model in train mode, BN in place of SyncBN (one process, no
    GPU)."""
    return revert_sync_batchnorm(MODELS.build(model_cfg)).train()


def build_models(a: argparse.Namespace, tmp: str):
    """The demo config (with the options of ``a``), and the three models
    measured: the full task's model, the proxy's backbone + head, and the
    proxy (the head alone, on features cached under ``tmp``)."""
    cfg = Config.fromfile(DEMO)
    if a.model != DEMO:
        cfg.model = model_for_demo_data(a.model, cfg)
    if a.cfg_options:
        cfg.merge_from_dict(a.cfg_options)
    if a.channels:
        cfg.model.decode_head.channels = a.channels
    task = build(cfg.model)  # (b) the full task's model
    cfg.model.auxiliary_head = None
    cfg.model.decode_head.c1_in_channels = 0  # the proxy's head: DPC alone
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = f'{tmp}/data'
    level = cfg.model.decode_head.in_index
    cache_features(cfg, 'train', f'{tmp}/cache', levels=[level],
                   device='cpu', progress=False)
    full = build(cfg.model)
    head = cfg.model.decode_head.copy()
    head.in_index = 0
    proxy = build(dict(type='CachedFeatureSegmentor', decode_head=head))
    proxy.decode_head.load_state_dict(full.decode_head.state_dict())
    return cfg, task, full, proxy


def timed_steps(cfg, task, full, proxy, tmp: str, b: int):
    """What one iteration of each is: name -> a function doing one."""
    optim = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
    full_opt = build_optim_wrapper(full, optim)
    task_opt = build_optim_wrapper(task, optim)
    proxy_opt = build_optim_wrapper(proxy, optim)
    images = DATASETS.build(cfg.train_dataloader.dataset)
    feats = CachedFeatureDataset(f'{tmp}/cache', 'train', flip_prob=0.5)
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
    return {
        'full train iteration, same head': lambda: full_opt.update_params(
            full.parse_losses(full.loss(**img_data))[0]),
        'full task train iteration': lambda: task_opt.update_params(
            task.parse_losses(task.loss(**img_data))[0]),
        'proxy train iteration': lambda: proxy_opt.update_params(
            proxy.parse_losses(proxy.loss(**feat_data))[0]),
        'image batch (decode + augment)': image_batch,
        'cached batch (mmap + crop/flip)': feature_batch,
    }


def report(cfg, full, med, b: int) -> None:
    """Print the medians and the speed-ups."""
    crop = tuple(cfg.crop_size)
    whole_madds, head_madds = multiply_adds(full, crop)
    bb = cfg.model.backbone
    name = bb.get('model_name', bb.type)
    if 'widen_factor' in bb:
        name += f' x{bb.widen_factor}'
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'batch {b}, crop {crop[0]}x{crop[1]}, {name} OS 16, released '
          f'cell, {cfg.model.decode_head.in_channels} -> '
          f'{cfg.model.decode_head.channels} head channels')
    print(f'  multiply-adds per image: backbone '
          f'{(whole_madds - head_madds) / 1e6:8.1f} M, DPC head '
          f'{head_madds / 1e6:8.1f} M')
    for name, t in med.items():
        print(f'  {name:36s} {t * 1e3:9.2f} ms')
    proxy = med['proxy train iteration']
    same = med['full train iteration, same head'] / proxy
    task = med['full task train iteration'] / proxy
    ld = (med['image batch (decode + augment)'] /
          med['cached batch (mmap + crop/flip)'])
    ceiling = whole_madds / head_madds
    print(f'proxy iteration speed-up vs same backbone+head: {same:6.1f}x  '
          f'(multiply-add ceiling {ceiling:.1f}x)')
    print(f'proxy iteration speed-up vs full task model:    {task:6.1f}x  '
          '(target >= 10x)')
    print(f'cache loading speed-up:                          {ld:6.1f}x  '
          '(target >= 5x)')


def main() -> None:
    a = parse_args()
    init_default_scope('mmseg')
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp(prefix='proxy_speed_')
    generate_synthetic_shapes(f'{tmp}/data', num_train=64, num_val=8)
    cfg, task, full, proxy = build_models(a, tmp)
    steps = timed_steps(cfg, task, full, proxy, tmp, a.batch_size)
    for fn in steps.values():  # warm-up
        fn()
    times = {name: [] for name in steps}
    for _ in range(a.rounds):
        for name, fn in steps.items():
            times[name].append(per_call(fn, a.iters))
    report(cfg, full, {name: statistics.median(t)
                       for name, t in times.items()}, a.batch_size)


if __name__ == '__main__':
    main()
