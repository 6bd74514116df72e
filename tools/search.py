"""``python tools/search.py ARGS`` = ``mmseg-dpc-search ARGS`` = ``python -m
mmseg_dpc.tools.search ARGS``: a wrapper of the package's tool (see it for
usage), kept so the clone's commands work as mmseg's do."""
from mmseg_dpc.tools.search import cli

if __name__ == '__main__':
    cli()
