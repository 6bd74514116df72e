"""The command-line tools, as modules of the package so that they run
installed (``python -m mmseg_dpc.tools.train``, or the console scripts
``mmseg-dpc-train``, ``-test``, ``-search``, ...); the clone's
``tools/*.py`` are thin wrappers of these."""
import warnings

# mmengine 0.10 imports pkg_resources, whose deprecation setuptools reports
# at every start; setup.py pins setuptools<81, where it still works
warnings.filterwarnings('ignore', message='pkg_resources is deprecated',
                        category=UserWarning)
