"""mmseg-dpc: the Dense Prediction Cell and its architecture search for
MMSegmentation."""
import os.path as osp

from setuptools import find_packages, setup


# each is ``python -m mmseg_dpc.tools.<module>``, and ``tools/<path>.py`` in
# the clone
CONSOLE_SCRIPTS = [
    'mmseg-dpc-train = mmseg_dpc.tools.train:main',
    'mmseg-dpc-test = mmseg_dpc.tools.test:main',
    'mmseg-dpc-search = mmseg_dpc.tools.search:cli',
    'mmseg-dpc-cache-features = mmseg_dpc.tools.cache_features:main',
    'mmseg-dpc-demo = mmseg_dpc.tools.demo:main',
    'mmseg-dpc-dashboard = mmseg_dpc.tools.dashboard:main',
    'mmseg-dpc-report = mmseg_dpc.tools.analysis.search_report:main',
    'mmseg-dpc-fidelity = mmseg_dpc.tools.analysis.proxy_fidelity:cli',
    'mmseg-dpc-seed-noise = mmseg_dpc.tools.analysis.seed_noise:cli',
    'mmseg-dpc-cheap-ensemble = '
    'mmseg_dpc.tools.analysis.cheap_ensemble:main',
    'mmseg-dpc-flops = mmseg_dpc.tools.analysis.get_flops:main',
    'mmseg-dpc-draw-cell = mmseg_dpc.tools.analysis.draw_cell:main',
    'mmseg-dpc-branch-contributions = '
    'mmseg_dpc.tools.analysis.branch_contributions:main',
    'mmseg-dpc-deeplab2mmseg = '
    'mmseg_dpc.tools.model_converters.deeplab2mmseg:main',
    'mmseg-dpc-make-synthetic-shapes = '
    'mmseg_dpc.tools.misc.make_synthetic_shapes:main',
]


def version() -> str:
    ns: dict = {}
    with open(osp.join(osp.dirname(__file__), 'mmseg_dpc', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


setup(
    name='mmseg-dpc',
    version=version(),
    description='Dense Prediction Cell (Chen et al., NeurIPS 2018) and its '
    'architecture search for MMSegmentation',
    long_description=open('README.md').read() if osp.exists('README.md') else
    '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.8',
    packages=find_packages(include=['mmseg_dpc', 'mmseg_dpc.*']),
    # the shipped configs, as OpenMMLab packages ship theirs: in the clone
    # mmseg_dpc/.mim/configs links to configs/, a wheel holds a copy
    package_data={'mmseg_dpc': ['.mim/model-index.yml',
                                '.mim/configs/**/*.py']},
    entry_points={'console_scripts': CONSOLE_SCRIPTS},
    install_requires=[
        'torch>=1.12',
        'torchvision',
        'mmengine>=0.10.0,<0.11.0',
        'mmcv>=2.0.0,<2.2.0',
        'mmsegmentation>=1.2.0,<1.3.0',
        'numpy',
        # mmengine 0.10.x imports pkg_resources at run time (mmseg:: config
        # bases, package checks); setuptools 81 removed it
        'setuptools<81',
        # mmseg imports these at import time but does not declare them
        'ftfy',
        'regex',
        # modified Xception-71 backbone (through mmseg's TIMMBackbone)
        'timm>=0.9',
    ],
    extras_require={
        'search': ['optuna>=3.4', 'optuna-dashboard', 'scipy', 'matplotlib'],
        'ray': ['ray[default]>=2.9'],
        'postgres': ['psycopg2-binary'],
        'tests': ['pytest'],
        # tools/model_converters/deeplab2mmseg.py reads TF checkpoints with
        # TensorFlow's own reader; nothing else needs TensorFlow
        'convert': ['tensorflow-cpu>=2.16'],
    },
    zip_safe=False,
)
