"""``python tools/model_converters/deeplab2mmseg.py ARGS`` = ``mmseg-dpc-
deeplab2mmseg ARGS`` = ``python -m
mmseg_dpc.tools.model_converters.deeplab2mmseg ARGS``: a wrapper of the
package's tool (see it for usage), kept so the clone's commands work as
mmseg's do."""
import sys

from mmseg_dpc.tools.model_converters.deeplab2mmseg import main

if __name__ == '__main__':
    sys.exit(main())
