"""Parameters and FLOPs of a segmentor and of its decode head.

    python tools/analysis/get_flops.py CONFIG [--shape H W] [--json OUT]

Counted with mmengine's complexity analysis (fvcore's counting: one fused
multiply-add is one FLOP, the unit of the paper's Multiply-Adds). The
figures are not the paper's Table 1, which counts the five branches'
convolution weights alone (no batch norm, no concat projection) on a
1025x2049 input: here parameters are counted in full (batch-norm affine
parameters included), and the head's figures cover the whole decode head,
projection, decoder and classifier included.
"""
import argparse
import json

from mmengine.config import DictAction

import mmseg_dpc
from mmseg_dpc.search.cost import counted_cost
from mmseg_dpc.tools.cli import load_config_file

mmseg_dpc.register_all_modules()  # DPCHead & co. in mmseg's registries


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('--shape', type=int, nargs=2, default=None,
                   help='input height and width (default: the crop size)')
    p.add_argument('--json', help='also write the figures to this file')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    a = p.parse_args()
    cfg = load_config_file(a.config)
    if a.cfg_options:
        cfg.merge_from_dict(a.cfg_options)
    shape = a.shape or list(cfg.get('crop_size', (512, 512)))
    res = dict(input_shape=list(shape), **counted_cost(cfg, shape))
    print(f'{a.config}\ninput {shape[0]}x{shape[1]}')
    for part in ('model', 'decode_head'):
        r = res[part]
        print(f'{part:12s} params {r["params"]:>12,d} ({r["params_str"]})  '
              f'FLOPs {r["flops"]:>16,d} ({r["flops_str"]})')
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(res, f, indent=2)


if __name__ == '__main__':
    main()
