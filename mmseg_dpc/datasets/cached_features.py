"""Serves a feature cache (see :mod:`mmseg_dpc.feature_cache.storage`) to the
mmengine Runner, with augmentation applied to features and labels.

Kept from the full task's augmentation: horizontal flips and random crops
(in feature cells; the label crop follows at the output stride). Dropped,
since they act on pixels before the backbone: random rescaling and
photometric distortion. A flipped feature map is not exactly the feature map
of the flipped image (convolutions are not flip-equivariant), which is the
price of the cache.
"""
from __future__ import annotations

import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.registry import DATASETS
from mmseg.structures import SegDataSample
from torch.utils.data import Dataset

from ..feature_cache.storage import FeatureCache


@DATASETS.register_module()
class CachedFeatureDataset(Dataset):
    """Cached backbone features and labels of one split.

    Args:
        data_root: the cache directory (``tools/cache_features.py --out``).
        split: sub-directory of the split (``train``, ``val``).
        crop_size: ``(h, w)`` in feature cells for random crops, or ``None``.
        flip_prob: probability of a horizontal flip.
        test_mode: no augmentation (validation / test).
        output_stride: pixels per feature cell (from the manifest if None).
        verify: check shard checksums when opening (files unchanged since
            they last passed are not read again).
        expected_source_hash: refuse a cache made from another source.
        expected_checkpoint_sha256: refuse a cache made from other weights
            (:func:`mmseg_dpc.feature_cache.expect_cache_source` sets both from a
            proxy config).
        device: load the whole split onto this device (e.g. ``'cuda'``) and
            augment there, so no data loading stands between the accelerator
            and the work; ``None`` memory-maps the shards.
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 crop_size: Optional[Sequence[int]] = None,
                 flip_prob: float = 0.5,
                 test_mode: bool = False,
                 output_stride: Optional[int] = None,
                 verify: bool = True,
                 expected_source_hash: Optional[str] = None,
                 expected_checkpoint_sha256: Optional[str] = None,
                 device: Optional[str] = None) -> None:
        self.cache = FeatureCache(
            osp.join(data_root, split), verify=verify,
            expected_source_hash=expected_source_hash,
            expected_checkpoint_sha256=expected_checkpoint_sha256)
        m = self.cache.manifest
        self.metainfo: Dict[str, Any] = dict(
            classes=tuple(m.get('classes', ())),
            palette=m.get('palette', []))
        self.test_mode = test_mode
        self.crop_size = None if crop_size is None else tuple(crop_size)
        self.flip_prob = 0.0 if test_mode else flip_prob
        self.output_stride = output_stride or m.get('output_stride')
        self.device = device
        self._resident = None
        if device is not None:
            self._resident = self._load_to(device)

    def _load_to(self, device: str):
        """Concatenate every shard into tensors on ``device``."""
        c = self.cache
        feats = [
            torch.from_numpy(np.concatenate([s[lv] for s in c.features]))
            for lv in range(c.num_levels)
        ]
        labels = torch.from_numpy(np.concatenate(c.labels))
        if str(device).startswith('cuda'):
            need = sum(f.numel() * f.element_size() for f in feats)
            free, _ = torch.cuda.mem_get_info(torch.device(device))
            if need > 0.8 * free:
                raise MemoryError(
                    f'feature cache needs {need / 2**30:.1f} GiB, '
                    f'{free / 2**30:.1f} GiB free on {device}: use '
                    'device=None to memory-map it instead')
        return [f.to(device) for f in feats], labels.to(device)

    def __len__(self) -> int:
        return len(self.cache)

    def _sample(self, index: int):
        if self._resident is not None:
            feats, labels = self._resident
            return [f[index] for f in feats], labels[index]
        feats, label = self.cache[index]
        # np.array copies out of the read-only memory map (one sample)
        return ([torch.from_numpy(np.array(f)) for f in feats],
                torch.from_numpy(np.array(label)))

    def _random_crop(self, feats: List[torch.Tensor], label: torch.Tensor):
        h, w = feats[0].shape[-2:]
        ch, cw = min(self.crop_size[0], h), min(self.crop_size[1], w)
        y0 = int(np.random.randint(0, h - ch + 1))
        x0 = int(np.random.randint(0, w - cw + 1))
        out = []
        for f in feats:  # levels may differ in stride: crop proportionally
            sy, sx = f.shape[-2] / h, f.shape[-1] / w
            out.append(f[..., int(y0 * sy):int((y0 + ch) * sy),
                         int(x0 * sx):int((x0 + cw) * sx)])
        s = self.output_stride
        crop = label[y0 * s:(y0 + ch) * s, x0 * s:(x0 + cw) * s]
        if crop.shape != (ch * s, cw * s):  # edge cells beyond the image
            padded = label.new_full((ch * s, cw * s), 255)
            padded[:crop.shape[0], :crop.shape[1]] = crop
            crop = padded
        return out, crop

    def __getitem__(self, index: int) -> Dict[str, Any]:
        feats, label = self._sample(index)
        if not self.test_mode and self.crop_size is not None:
            feats, label = self._random_crop(feats, label)
        flip = self.flip_prob > 0 and np.random.rand() < self.flip_prob
        if flip:
            feats = [f.flip(-1) for f in feats]
            label = label.flip(-1)
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[None].long())
        shape = tuple(label.shape)
        sample.set_metainfo(dict(
            img_shape=shape, ori_shape=shape, pad_shape=shape,
            padding_size=[0, 0, 0, 0], flip=flip, sample_idx=index,
            reduce_zero_label=False))
        return dict(inputs=feats, data_samples=sample)
