"""mmseg-dpc: the Dense Prediction Cell and its architecture search for
MMSegmentation."""
import os.path as osp

from setuptools import find_packages, setup


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
    include_package_data=True,
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
