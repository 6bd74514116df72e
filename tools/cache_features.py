"""Cache a model config's backbone features over a data set split.

    python tools/cache_features.py CONFIG [--out CACHE_DIR]
        [--split train val] [--checkpoint PTH] [--levels 3]
        [--dtype float16] [--shard-size 64]

CONFIG is a full model config (then --out is needed) or a proxy config,
whose ``feature_source``, ``feature_levels`` and ``cache_root`` say what to
cache and where.

Runs the backbone once per image (with the config's ``cache_pipeline``, or
load + annotations only) and writes memory-mappable shards and a manifest to
``CACHE_DIR/SPLIT``. Re-running the same command resumes an interrupted run;
a cache made with another backbone/config/checkpoint is refused.
"""
import argparse
import sys

from mmengine.config import Config, DictAction

import mmseg_dpc  # noqa: F401
from mmseg_dpc.proxy import CacheError, cache_features, resolve_cache_config


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', help='a proxy config, or a full model config')
    p.add_argument('--out', help='cache directory (default: the proxy '
                   'config\'s cache_root)')
    p.add_argument('--split', nargs='+', default=['train', 'val'])
    p.add_argument('--checkpoint', help='weights of the model (backbone)')
    p.add_argument('--levels', type=int, nargs='+',
                   help='backbone outputs to cache (default: those the '
                   'decode head reads)')
    p.add_argument('--dtype', default='float16',
                   choices=['float16', 'float32'])
    p.add_argument('--shard-size', type=int, default=64)
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--device', help='default: cuda if available, else cpu')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    a = p.parse_args()
    cfg = Config.fromfile(a.config)
    if a.cfg_options:
        cfg.merge_from_dict(a.cfg_options)
    try:
        source, levels, out = resolve_cache_config(cfg)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')
    out = a.out or out
    if out is None:
        sys.exit('error: --out is needed with a full model config')
    for split in a.split:
        print(f'[cache] {split} -> {out}/{split}')
        try:
            d = cache_features(source, split, out, checkpoint=a.checkpoint,
                               levels=a.levels or levels, dtype=a.dtype,
                               shard_size=a.shard_size,
                               batch_size=a.batch_size, device=a.device)
        except CacheError as e:
            sys.exit(f'error: {e}')
        print(f'[cache] {split} done: {d}')


if __name__ == '__main__':
    main()
