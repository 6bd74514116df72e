"""Read and write TF checkpoints by variable name, with TensorFlow's own
reader and saver (the optional ``convert`` extra: ``pip install -e
.[convert]``). Nothing else in mmseg-dpc imports TensorFlow."""
from __future__ import annotations

import glob
import os
import os.path as osp
import tarfile
import tempfile
from contextlib import contextmanager
from typing import Dict, Iterator

import numpy as np


def _tf():
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    try:
        import tensorflow as tf
    except ImportError as e:
        raise ImportError('reading TF checkpoints needs TensorFlow: pip '
                          'install -e .[convert] (tensorflow-cpu)') from e
    return tf


@contextmanager
def checkpoint_prefix(src: str) -> Iterator[str]:
    """The ``model.ckpt`` prefix of ``src``: a model-zoo ``.tar.gz`` (read
    from a temporary folder), a folder holding one checkpoint, or the
    prefix itself (``.index`` / ``.data-*`` names are accepted too)."""
    if src.endswith(('.tar.gz', '.tgz', '.tar')) and osp.isfile(src):
        with tempfile.TemporaryDirectory(prefix='deeplab_ckpt_') as tmp:
            with tarfile.open(src) as tar:
                tar.extractall(tmp, filter='data')
            yield _prefix_in(tmp, src)
        return
    if osp.isdir(src):
        yield _prefix_in(src, src)
        return
    for suffix in ('.index', '.meta'):
        if src.endswith(suffix):
            src = src[:-len(suffix)]
    if '.data-' in osp.basename(src):
        src = src[:src.rindex('.data-')]
    if not osp.isfile(src + '.index'):
        raise FileNotFoundError(f'no TF checkpoint at {src} (no '
                                f'{osp.basename(src)}.index)')
    yield src


def _prefix_in(folder: str, src: str) -> str:
    found = sorted(glob.glob(osp.join(folder, '**', '*.index'),
                             recursive=True))
    if len(found) != 1:
        raise FileNotFoundError(
            f'{src}: expected one TF checkpoint (*.index), found '
            f'{len(found)}' + (f': {found}' if found else ''))
    return found[0][:-len('.index')]


def read_tf_checkpoint(src: str) -> Dict[str, np.ndarray]:
    """Every variable of the checkpoint at ``src``, by name."""
    tf = _tf()
    with checkpoint_prefix(src) as prefix:
        reader = tf.train.load_checkpoint(prefix)
        return {name: np.asarray(reader.get_tensor(name))
                for name in reader.get_variable_to_shape_map()}


def write_tf_checkpoint(variables: Dict[str, np.ndarray], prefix: str) -> str:
    """Write ``variables`` as a TF1 (slim-style, name-keyed) checkpoint at
    ``prefix`` with TensorFlow's own saver; returns the prefix."""
    tf = _tf()
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        tf_vars = [v1.Variable(value, name=name)
                   for name, value in variables.items()]
        saver = v1.train.Saver(tf_vars, write_version=v1.train.SaverDef.V2)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            saver.save(sess, prefix, write_meta_graph=False,
                       write_state=False)
    return prefix
