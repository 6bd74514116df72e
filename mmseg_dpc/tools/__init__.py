"""The command-line tools, as modules of the package so that they run
installed (``python -m mmseg_dpc.tools.train``, or the console scripts
``mmseg-dpc-train``, ``-test``, ``-search``, ...); the clone's
``tools/*.py`` are thin wrappers of these."""
