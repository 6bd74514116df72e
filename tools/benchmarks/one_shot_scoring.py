"""How few BN batches and validation maps rank cells as well as many?

    python tools/benchmarks/one_shot_scoring.py SUPERNET_RUN_DIR
        [--cells 300] [--seed 0] [--reference 4x64]
        [--variants 1x64 2x64 8x64 4x16 4x32 2x32] [--device cpu]

SUPERNET_RUN_DIR is a trained supernet's run (its ``config.py`` and
``last_checkpoint``), e.g. the one ``cheap_stage_cost.py`` or a one-shot
search trains (``WORK_DIR/cheap/one_shot-position/supernet``). The same
``--cells`` uniform cells are scored with the reference settings (K BN
batches, V validation maps) and with each variant ``KxV`` (a fresh scorer
each, the branch memo cold, cells in the scorer's order), one after the
other in this process. Prints, per setting: seconds per cell, the speed-up
over the reference, and the Spearman and Kendall of its scores against
the reference's with bootstrap 95% intervals (cells resampled). A variant
that ranks as the reference does at a fraction of its cost is a cheaper
one-shot stage; whether either ranks as the stand-alone proxy does is the
fidelity tool's question (``proxy_fidelity.py --cheap one_shot
--cheap-options bn_batches=K num_val=V``).
"""
import argparse
import os.path as osp
import sys
import time


def setting(text):
    """``'KxV'`` as ``(K, V)``."""
    try:
        k, v = (int(x) for x in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r}: a setting is KxV (BN batches x validation maps), '
            'e.g. 2x32')
    if k < 1 or v < 1:
        raise argparse.ArgumentTypeError(f'{text!r}: K and V must be >= 1')
    return k, v


def supernet_run(run_dir):
    """The run's config and last checkpoint; exits naming what is
    missing."""
    cfg_path = osp.join(run_dir, 'config.py')
    last = osp.join(run_dir, 'last_checkpoint')
    for path in (cfg_path, last):
        if not osp.isfile(path):
            sys.exit(f'{run_dir}: no {osp.basename(path)} (a trained '
                     'supernet run is needed)')
    with open(last) as f:
        return cfg_path, f.read().strip()


def score(cfg, checkpoint, cells, k, v, device):
    """Scores of ``cells`` (in their given order) and seconds per cell."""
    from mmseg_dpc.search.one_shot import OneShotOptions, OneShotScorer
    scorer = OneShotScorer.from_config(
        cfg, checkpoint, OneShotOptions(bn_batches=k, num_val=v),
        device=device)
    start = time.perf_counter()
    out = [0.0] * len(cells)
    for s in scorer.score_cells(cells):
        out[s.index] = s.miou
    return out, (time.perf_counter() - start) / len(cells)


def corr(agree, name):
    """``'0.812 [0.78, 0.84]'``; ``n/a`` where undefined (a constant
    side, e.g. every cell scoring alike)."""
    from mmseg_dpc.search.progress import num
    value, ci = agree[name], agree[f'{name}_ci95']
    if value is None:
        return num(value)
    return f'{num(value, 3)} ' + ('[n/a]' if ci is None or None in ci else
                                  f'[{num(ci[0])}, {num(ci[1])}]')


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('run_dir', help='a trained supernet run directory')
    p.add_argument('--cells', type=int, default=300)
    p.add_argument('--seed', type=int, default=0, help='of the cells')
    p.add_argument('--reference', type=setting, default=(4, 64),
                   help='KxV of the reference scores (default 4x64)')
    p.add_argument('--variants', type=setting, nargs='+',
                   default=[setting(s) for s in
                            ('1x64', '2x64', '8x64', '4x16', '4x32',
                             '2x32')])
    p.add_argument('--device', default='cpu')
    a = p.parse_args()
    if a.cells < 3:
        p.error('--cells must be >= 3 (rank correlations)')
    import numpy as np
    from mmengine.config import Config

    import mmseg_dpc
    from mmseg_dpc.analysis.fidelity import summarize
    from mmseg_dpc.search.cached_batches import split_size
    from mmseg_dpc.search.cheap_stage import uniform_candidates
    from mmseg_dpc.search.space import DPCSearchSpace
    from mmseg_dpc.utils.third_party_log import third_party_log
    mmseg_dpc.register_all_modules()
    cfg_path, checkpoint = supernet_run(a.run_dir)
    cfg = Config.fromfile(cfg_path)
    maps = dict(train=split_size(cfg, 'train_dataloader'),
                val=split_size(cfg, 'val_dataloader'))
    batch = cfg.train_dataloader.batch_size
    for k, v in [a.reference, *a.variants]:
        if k * batch > maps['train'] or v > maps['val']:
            p.error(f'{k}x{v}: {k} BN batches of {batch} and {v} validation '
                    f'maps; the cache holds {maps["train"]} training and '
                    f'{maps["val"]} validation maps')
    head = cfg.model.decode_head
    space = DPCSearchSpace(**{k: head[k] for k in
                              ('num_branches', 'rates', 'grids', 'ops')
                              if k in head})
    cells = uniform_candidates(space, a.cells, seed=a.seed)
    print(f'{len(cells)} uniform cells (seed {a.seed}) scored with '
          f'{checkpoint}; reference {a.reference[0]} BN batches x '
          f'{a.reference[1]} validation maps', flush=True)
    rows = []
    with third_party_log(osp.join(a.run_dir, 'one_shot_scoring.log')):
        ref, ref_s = score(cfg, checkpoint, cells, *a.reference, a.device)
        rows.append((a.reference, ref_s, None))
        print(f'  {a.reference[0]}x{a.reference[1]}: {ref_s:.3f} s a cell',
              flush=True)
        for k, v in a.variants:
            got, s = score(cfg, checkpoint, cells, k, v, a.device)
            agree = summarize(np.array(ref)[:, None], np.array(got)[:, None])
            rows.append(((k, v), s, agree))
            print(f'  {k}x{v}: {s:.3f} s a cell, Kendall '
                  f'{corr(agree, "kendall")}', flush=True)
    print('\n| BN batches x val maps | s / cell | speed-up | Spearman vs '
          'reference [95%] | Kendall vs reference [95%] |')
    print('| --- | --- | --- | --- | --- |')
    for (k, v), s, agree in rows:
        if agree is None:
            print(f'| {k} x {v} (reference) | {s:.3f} | 1.00x | 1 | 1 |')
            continue
        print(f'| {k} x {v} | {s:.3f} | {ref_s / s:.2f}x | '
              f'{corr(agree, "spearman")} | {corr(agree, "kendall")} |')


if __name__ == '__main__':
    main()
