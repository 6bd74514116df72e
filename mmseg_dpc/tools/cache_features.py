"""Cache a model config's backbone features over a data set split.

    python tools/cache_features.py CONFIG [--out CACHE_DIR]
        [--split train val] [--checkpoint PTH] [--levels 3]
        [--dtype float16] [--shard-size 64]

CONFIG is a full model config (then --out is needed) or a proxy config,
whose ``feature_source``, ``feature_levels`` and ``cache_root`` say what to
cache and where, and whose ``feature_checkpoint`` and ``feature_dtype`` are
the defaults of --checkpoint and --dtype (a proxy trains only on a cache
made from the checkpoint its config names).

Runs the backbone once per image (with the config's ``cache_pipeline``, or
else its ``test_pipeline``'s loading and resizing: the scale the full model
validates at) and writes memory-mappable shards and a manifest to
``CACHE_DIR/SPLIT``. Re-running the same command resumes an interrupted run;
a cache made with another backbone/config/checkpoint is refused.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

import mmseg_dpc
from mmseg_dpc.feature_cache import (CacheError, cache_features,
                                     resolve_cache_config)
from mmseg_dpc.tools.cli import load_config_file
from mmseg_dpc.utils.checkpoint import CheckpointError, check_checkpoint
from mmseg_dpc.utils.third_party_log import third_party_log

mmseg_dpc.register_all_modules()  # DPCHead & co. in mmseg's registries


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', help='a proxy config, or a full model config')
    p.add_argument('--out', help='cache directory (default: the proxy '
                   'config\'s cache_root)')
    p.add_argument('--split', nargs='+', default=['train', 'val'])
    p.add_argument('--checkpoint', help='weights of the model (backbone); '
                   'default: the proxy config\'s feature_checkpoint')
    p.add_argument('--levels', type=int, nargs='+',
                   help='backbone outputs to cache (default: those the '
                   'decode head reads)')
    p.add_argument('--dtype', choices=['float16', 'float32'],
                   help='default: the proxy config\'s feature_dtype, or '
                   'float16')
    p.add_argument('--shard-size', type=int, default=64)
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--device', help='default: cuda if available, else cpu')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    a = p.parse_args()
    cfg = load_config_file(a.config)
    if a.cfg_options:
        cfg.merge_from_dict(a.cfg_options)
    try:
        source, levels, out = resolve_cache_config(cfg)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')
    out = a.out or out
    if out is None:
        sys.exit('error: --out is needed with a full model config')
    named = cfg.get('feature_checkpoint')
    if a.checkpoint and named and a.checkpoint != named:
        sys.exit(f'error: --checkpoint {a.checkpoint} is not the config\'s '
                 f'feature_checkpoint {named}: a proxy trains only on '
                 'features of the checkpoint its config names; pass one')
    checkpoint = a.checkpoint or named
    if checkpoint:
        try:
            check_checkpoint(checkpoint)
        except CheckpointError as e:
            sys.exit(f'error: {e}')
    dtype = a.dtype or cfg.get('feature_dtype', 'float16')
    with third_party_log(osp.join(out, 'cache_features.log')) as log:
        for split in a.split:
            print(f'[cache] {split} -> {out}/{split}', flush=True)
            try:
                d = cache_features(source, split, out,
                                   checkpoint=checkpoint,
                                   levels=a.levels or levels, dtype=dtype,
                                   shard_size=a.shard_size,
                                   batch_size=a.batch_size, device=a.device)
            except CacheError as e:
                sys.exit(f'error: {e}')
            print(f'[cache] {split} done: {d}', flush=True)
    if log.summary():
        print(f'[cache] {log.summary()}')


if __name__ == '__main__':
    main()
