"""Write the generated demo data set in mmseg's layout.

    python tools/misc/make_synthetic_shapes.py data/synthetic_shapes \
        [--train 64] [--val 16] [--size 128] [--seed 0]
"""
import argparse

from mmseg_dpc.datasets import generate_synthetic_shapes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('root')
    p.add_argument('--train', type=int, default=64)
    p.add_argument('--val', type=int, default=16)
    p.add_argument('--size', type=int, default=128)
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    try:
        counts = generate_synthetic_shapes(a.root, a.train, a.val, a.size,
                                           a.seed)
    except ValueError as e:
        raise SystemExit(f'error: {e}') from None
    print(f'wrote {counts} samples under {a.root}')


if __name__ == '__main__':
    main()
