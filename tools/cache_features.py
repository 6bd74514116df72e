"""``python tools/cache_features.py ARGS`` = ``mmseg-dpc-cache-features ARGS``
= ``python -m mmseg_dpc.tools.cache_features ARGS``: a wrapper of the
package's tool (see it for usage), kept so the clone's commands work as
mmseg's do."""
import sys

from mmseg_dpc.tools.cache_features import main

if __name__ == '__main__':
    sys.exit(main())
