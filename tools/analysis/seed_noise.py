"""``python tools/analysis/seed_noise.py ARGS`` = ``mmseg-dpc-seed-noise
ARGS`` = ``python -m mmseg_dpc.tools.analysis.seed_noise ARGS``: a wrapper
of the package's tool (see it for usage), kept so the clone's commands
work as mmseg's do."""
from mmseg_dpc.tools.analysis.seed_noise import cli

if __name__ == '__main__':
    cli()
