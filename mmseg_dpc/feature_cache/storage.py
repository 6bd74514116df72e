"""An on-disk cache of backbone features, the heart of the cheap proxy task.

Layout of one split::

    CACHE/SPLIT/manifest.json
    CACHE/SPLIT/shard_00000.feat0.npy   # [n, C, h, w] float16, per level
    CACHE/SPLIT/shard_00000.label.npy   # [n, H, W] uint8 (255 = ignore)

Shards are plain ``.npy`` arrays, opened with ``mmap_mode='r'``: nothing is
copied until a sample is read. The manifest records what made the cache
(hash of backbone + preprocessing + pipeline + levels, checkpoint hash), the
shapes, dtype, split, count and a sha256 per file. Files and manifest are
written to a temporary name and renamed, so an interrupted run leaves only
whole shards, and a resumed run continues after the last one.
"""
from __future__ import annotations

import hashlib
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..utils.io import atomic_write_json

MANIFEST = 'manifest.json'
# files already checked: name -> [size, mtime_ns, sha256]
VERIFIED = 'verified.json'
FORMAT_VERSION = 1


class CacheError(ValueError):
    """A cache that cannot be used as asked (mismatch, corruption)."""


def file_sha256(path: str, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            block = f.read(chunk)
            if not block:
                return h.hexdigest()
            h.update(block)


def source_hash(source: Dict[str, Any]) -> str:
    """Hash of what determines the features (backbone config, data
    preprocessor, cache pipeline, levels, dtype)."""
    text = json.dumps(source, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _atomic_npy(path: str, array: np.ndarray) -> str:
    tmp = path[:-len('.npy')] + '.tmp.npy'
    np.save(tmp, array)
    digest = file_sha256(tmp)
    os.replace(tmp, path)
    return digest


def read_manifest(split_dir: str) -> Dict[str, Any]:
    path = osp.join(split_dir, MANIFEST)
    if not osp.exists(path):
        raise CacheError(f'feature cache {split_dir}: no {MANIFEST}; build '
                         'it with tools/cache_features.py')
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise CacheError(f'feature cache {split_dir}: {MANIFEST} is corrupt '
                         f'({e})') from e


def feature_file(shard: int, level: int) -> str:
    return f'shard_{shard:05d}.feat{level}.npy'


def label_file(shard: int) -> str:
    return f'shard_{shard:05d}.label.npy'


def verify_shard(split_dir: str, shard: Dict[str, Any],
                 verified: Optional[Dict[str, list]] = None
                 ) -> Optional[str]:
    """``None`` if every file of ``shard`` matches its checksum, else a
    message naming the first bad file. Files whose size and mtime are as
    ``verified`` recorded them (with the same checksum) are not read again;
    the files that pass are added to it."""
    for name, digest in sorted(shard['files'].items()):
        path = osp.join(split_dir, name)
        if not osp.exists(path):
            return f'{name} is missing'
        st = os.stat(path)
        key = [st.st_size, st.st_mtime_ns, digest]
        if verified is not None and verified.get(name) == key:
            continue
        if file_sha256(path) != digest:
            return f'{name} is corrupt (sha256 mismatch)'
        if verified is not None:
            verified[name] = key
    return None


def _read_stamp(split_dir: str) -> Dict[str, list]:
    try:
        with open(osp.join(split_dir, VERIFIED)) as f:
            stamp = json.load(f)
        return stamp if isinstance(stamp, dict) else {}
    except (OSError, ValueError):
        return {}


class FeatureCacheWriter:
    """Writes one split shard by shard; resumes an interrupted run.

    Args:
        split_dir: where the split lives.
        source: what determines the features (hashed into the manifest).
        meta: extra manifest fields (checkpoint, split, dataset, classes).
        count: number of samples the split will hold.
        shard_size: samples per shard.
    """

    def __init__(self, split_dir: str, source: Dict[str, Any],
                 meta: Dict[str, Any], count: int, shard_size: int) -> None:
        self.split_dir = split_dir
        self.path = osp.join(split_dir, MANIFEST)
        os.makedirs(split_dir, exist_ok=True)
        new = dict(format=FORMAT_VERSION, source_hash=source_hash(source),
                   source=source, count=count, shard_size=shard_size,
                   complete=False, shards=[], **meta)
        if osp.exists(self.path):
            old = read_manifest(split_dir)
            for key in ('source_hash', 'checkpoint_sha256', 'count',
                        'shard_size', 'split'):
                if old.get(key) != new.get(key):
                    raise CacheError(
                        f'feature cache {split_dir} was made with another '
                        f'{key} ({old.get(key)!r}, now {new.get(key)!r}): '
                        'refusing to mix them; use another --out directory '
                        'or delete this one')
            self.manifest = old
        else:
            self.manifest = new
            atomic_write_json(self.path, self.manifest)

    @property
    def num_shards(self) -> int:
        m = self.manifest
        return -(-m['count'] // m['shard_size'])

    def done_shards(self, verify: bool = True) -> Dict[int, Dict[str, Any]]:
        """Finished shards by index. With ``verify``, a shard whose files fail
        their checksum is dropped (and reported) so it is rebuilt."""
        done = {}
        for shard in self.manifest['shards']:
            problem = verify_shard(self.split_dir, shard) if verify else None
            if problem:
                print(f'[cache] shard {shard["index"]}: {problem}; it will be '
                      'rebuilt')
                continue
            done[shard['index']] = shard
        self.manifest['shards'] = sorted(done.values(),
                                         key=lambda s: s['index'])
        return done

    def shard_range(self, index: int) -> range:
        m = self.manifest
        return range(index * m['shard_size'],
                     min((index + 1) * m['shard_size'], m['count']))

    def write_shard(self, index: int, features: Sequence[np.ndarray],
                    labels: np.ndarray) -> None:
        expected = len(self.shard_range(index))
        if labels.shape[0] != expected:
            raise ValueError(f'shard {index}: {labels.shape[0]} samples, '
                             f'expected {expected}')
        files = {}
        for level, feat in enumerate(features):
            name = feature_file(index, level)
            files[name] = _atomic_npy(osp.join(self.split_dir, name), feat)
        name = label_file(index)
        files[name] = _atomic_npy(osp.join(self.split_dir, name), labels)
        m = self.manifest
        if 'feature_shapes' not in m:
            m['feature_shapes'] = [list(f.shape[1:]) for f in features]
            m['label_shape'] = list(labels.shape[1:])
            m['dtype'] = str(features[0].dtype)
        m['shards'] = [s for s in m['shards'] if s['index'] != index]
        m['shards'].append(dict(index=index, count=expected, files=files))
        m['shards'].sort(key=lambda s: s['index'])
        m['complete'] = len(m['shards']) == self.num_shards
        atomic_write_json(self.path, m)


class FeatureCache:
    """Read access to one finished split: memory-mapped arrays per shard.

    Args:
        split_dir: the split's directory.
        verify: check every file's sha256 on open (``False`` skips it).
        expected_source_hash: refuse a cache made from another source.
    """

    def __init__(self, split_dir: str, verify: bool = True,
                 expected_source_hash: Optional[str] = None,
                 expected_checkpoint_sha256: Optional[str] = None) -> None:
        self.split_dir = split_dir
        self.manifest = m = read_manifest(split_dir)
        if not m.get('complete'):
            raise CacheError(
                f'feature cache {split_dir} is incomplete '
                f'({len(m["shards"])} shards written): re-run '
                'tools/cache_features.py with the same arguments to finish '
                'it')
        if (expected_source_hash is not None
                and m['source_hash'] != expected_source_hash):
            raise CacheError(
                f'feature cache {split_dir} was made for another backbone or '
                f'preprocessing (source hash {m["source_hash"]}, this config '
                f'expects {expected_source_hash})')
        if (expected_checkpoint_sha256 is not None
                and m.get('checkpoint_sha256') != expected_checkpoint_sha256):
            raise CacheError(
                f'feature cache {split_dir} was made from another backbone '
                f'checkpoint ({m.get("checkpoint")!r}, sha256 '
                f'{m.get("checkpoint_sha256")}); this config expects sha256 '
                f'{expected_checkpoint_sha256} (its feature_checkpoint): '
                'rebuild the cache with tools/cache_features.py or set '
                'feature_checkpoint to the checkpoint it was made from')
        if verify:
            self._verify()
        self.features: List[List[np.ndarray]] = []
        self.labels: List[np.ndarray] = []
        self.offsets: List[int] = []
        total = 0
        for shard in m['shards']:
            k = shard['index']
            self.features.append([
                np.load(osp.join(split_dir, feature_file(k, level)),
                        mmap_mode='r')
                for level in range(len(m['feature_shapes']))
            ])
            self.labels.append(
                np.load(osp.join(split_dir, label_file(k)), mmap_mode='r'))
            self.offsets.append(total)
            total += shard['count']
        self.count = total

    def _verify(self) -> None:
        """Check every file's sha256, once: a stamp file records the size
        and mtime of the files that passed, and only files that changed
        since are read again (a search opens the cache once per trial)."""
        stamp = _read_stamp(self.split_dir)
        verified = dict(stamp)
        for shard in self.manifest['shards']:
            problem = verify_shard(self.split_dir, shard, verified)
            if problem:
                raise CacheError(
                    f'feature cache {self.split_dir}: shard {shard["index"]}: '
                    f'{problem}; re-run tools/cache_features.py with the '
                    'same arguments to rebuild just that shard')
        if verified != stamp:
            try:
                atomic_write_json(osp.join(self.split_dir, VERIFIED),
                                  verified)
            except OSError:  # a read-only cache is verified every time
                pass

    @property
    def num_levels(self) -> int:
        return len(self.manifest['feature_shapes'])

    def __len__(self) -> int:
        return self.count

    def locate(self, index: int):
        if not 0 <= index < self.count:
            raise IndexError(index)
        shard = int(np.searchsorted(self.offsets, index, side='right')) - 1
        return shard, index - self.offsets[shard]

    def __getitem__(self, index: int):
        """``([level arrays], label)`` of one sample (memory-mapped views)."""
        s, i = self.locate(index)
        return [f[i] for f in self.features[s]], self.labels[s][i]
