"""What skipping padding-only taps (AtrousConv2d) saves on proxy iterations.

    python tools/benchmarks/atrous_conv.py [--cells 8] [--iters 10]
        [--rounds 3] [--size 8]

One proxy training iteration (DPC head on a cached-feature batch: forward,
loss, backward, SGD step) of the released cell and of ``--cells`` cells
sampled from the paper's space, with the default separable convs
(AtrousConv2d) and with plain ``nn.Conv2d`` (``conv_cfg=dict(type='Conv2d')``),
same weights. Defaults are the demo's proxy: batch 8, 160 -> 256 channels,
8x8 features (128-pixel crop at output stride 16), 5 classes. Rounds
alternate the two sides; medians over rounds.
"""
import argparse
import statistics
import time

import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmseg_dpc
from mmseg_dpc.models.utils import TOP1_CITYSCAPES
from mmseg_dpc.search import Architecture, DPCSearchSpace

mmseg_dpc.register_all_modules()  # DPCHead & co. in mmseg's registries


def proxy(arch: Architecture, conv_cfg, in_channels: int, classes: int):
    head = arch.head_config(in_channels=in_channels, channels=256,
                            num_classes=classes, in_index=0,
                            norm_cfg=dict(type='BN'), conv_cfg=conv_cfg)
    model = MODELS.build(dict(type='CachedFeatureSegmentor',
                              decode_head=head)).train()
    return model, build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--cells', type=int, default=8)
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--size', type=int, default=8, help='feature map side')
    p.add_argument('--in-channels', type=int, default=160)
    a = p.parse_args()
    init_default_scope('mmseg')
    torch.manual_seed(0)
    classes, crop = 5, a.size * 16
    x = [torch.randn(8, a.in_channels, a.size, a.size)]
    samples = []
    for _ in range(8):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, classes, (1, crop,
                                                                 crop)))
        s.set_metainfo(dict(img_shape=(crop, crop), pad_shape=(crop, crop),
                            ori_shape=(crop, crop)))
        samples.append(s)
    archs = [Architecture(TOP1_CITYSCAPES)] + list(
        DPCSearchSpace().samples(a.cells, seed=0))
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'batch 8, {a.in_channels} -> 256 channels, {a.size}x{a.size} '
          f'features; ms per proxy iteration (median of {a.rounds})')
    print(f'{"cell":>12s} {"Conv2d":>9s} {"Atrous":>9s} {"speed-up":>9s}')
    ratios = []
    for i, arch in enumerate(archs):
        sides = {}
        for name, conv_cfg in (('Conv2d', dict(type='Conv2d')),
                               ('Atrous', None)):
            sides[name] = proxy(arch, conv_cfg, a.in_channels, classes)
        sides['Atrous'][0].load_state_dict(sides['Conv2d'][0].state_dict())
        times = {name: [] for name in sides}
        for _ in range(a.rounds):
            for name, (model, optim) in sides.items():
                def step():
                    losses = model.loss(x, samples)
                    optim.update_params(model.parse_losses(losses)[0])
                step()  # warm-up
                start = time.perf_counter()
                for _ in range(a.iters):
                    step()
                times[name].append((time.perf_counter() - start) / a.iters)
        plain, atrous = (statistics.median(times[n]) * 1e3
                         for n in ('Conv2d', 'Atrous'))
        ratios.append(plain / atrous)
        label = 'released' if i == 0 else arch.hash
        print(f'{label:>12s} {plain:9.1f} {atrous:9.1f} {plain / atrous:8.2f}x')
    print(f'geometric mean speed-up over {len(ratios)} cells: '
          f'{statistics.geometric_mean(ratios):.2f}x')


if __name__ == '__main__':
    main()
