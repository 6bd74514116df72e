"""``python tools/demo.py ARGS`` = ``mmseg-dpc-demo ARGS`` = ``python -m
mmseg_dpc.tools.demo ARGS``: a wrapper of the package's tool (see it for
usage), kept so the clone's commands work as mmseg's do."""
import sys

from mmseg_dpc.tools.demo import main

if __name__ == '__main__':
    sys.exit(main())
