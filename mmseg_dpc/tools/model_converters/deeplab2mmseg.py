"""Convert a TF DeepLab checkpoint to an mmseg checkpoint.

    python tools/model_converters/deeplab2mmseg.py SRC DST [--config CONFIG]

SRC: a DeepLab model-zoo ``.tar.gz``, the folder it unpacks to, or the
``model.ckpt`` prefix. DST: an mmseg ``.pth`` that ``tools/test.py`` and
``load_from`` take. CONFIG: the mmseg config of the model (default: the
DeepLab-layout DPC config of the checkpoint's backbone). Every checkpoint
variable is mapped or reported, every model parameter filled or reported;
a checkpoint of another architecture is refused, naming what differs.
Needs TensorFlow's checkpoint reader: pip install -e .[convert]
"""
import argparse
import os.path as osp
import sys

DEFAULT_CONFIGS = {
    'xception_71': 'configs/dpc/dpc_xception71-deeplab-d16_8xb2-90k_'
                   'cityscapes-769x769.py',
    'MobilenetV2': 'configs/dpc/dpc_mobilenet-v2-deeplab-d16_8xb2-90k_'
                   'cityscapes-769x769.py',
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('src', help='.tar.gz, checkpoint folder or model.ckpt '
                   'prefix')
    p.add_argument('dst', help='the mmseg checkpoint to write (.pth)')
    p.add_argument('--config', '--model', dest='config',
                   help='mmseg config of the model (default: by the '
                   'checkpoint\'s backbone)')
    a = p.parse_args()

    import torch
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmseg_dpc
    mmseg_dpc.register_all_modules()  # DPCHead & co. in mmseg's registries
    from mmseg_dpc.converters import (ConversionError, convert,
                                      read_tf_checkpoint)
    from mmseg_dpc.tools.cli import load_config_file
    try:
        variables = read_tf_checkpoint(a.src)
    except (FileNotFoundError, ImportError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    config = a.config
    if config is None:
        scopes = {name.split('/')[0] for name in variables}
        found = [c for s, c in DEFAULT_CONFIGS.items() if s in scopes]
        if len(found) != 1:
            print(f'error: {a.src}: no known DeepLab backbone among the '
                  f'scopes {sorted(scopes)}: pass --config', file=sys.stderr)
            return 2
        config = found[0]  # shipped: found from any directory
    cfg = load_config_file(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    cfg.model.pop('auxiliary_head', None)
    model = MODELS.build(cfg.model)
    try:
        state, report = convert(variables, model)
    except ConversionError as e:
        print(f'error: {a.src} does not fit {config}: {e}', file=sys.stderr)
        return 2
    meta = dict(converted_from=osp.abspath(a.src), config=config,
                skipped=report['skipped'])
    torch.save(dict(state_dict=state, meta=meta), a.dst)
    print(f'{a.src}: {len(variables) - len(report["skipped"])} variables '
          f'-> {len(state) - len(report["zero_filled"])} parameters and '
          f'buffers of {config}')
    if report['skipped']:
        print(f'not converted (training state): {len(report["skipped"])}, '
              f'e.g. {report["skipped"][:3]}')
    print(f'filled with zeros (DeepLab keeps no count): '
          f'{len(report["zero_filled"])} BatchNorm num_batches_tracked')
    print(f'written: {a.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
