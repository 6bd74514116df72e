"""``python tools/misc/make_synthetic_shapes.py ARGS`` = ``mmseg-dpc-make-
synthetic-shapes ARGS`` = ``python -m
mmseg_dpc.tools.misc.make_synthetic_shapes ARGS``: a wrapper of the
package's tool (see it for usage), kept so the clone's commands work as
mmseg's do."""
import sys

from mmseg_dpc.tools.misc.make_synthetic_shapes import main

if __name__ == '__main__':
    sys.exit(main())
