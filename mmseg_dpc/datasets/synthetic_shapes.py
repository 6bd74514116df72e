"""A generated segmentation data set that ships as code, not files.

Objects appear at several scales; a disc's class depends on its context (a
disc on a table is a *plate*, elsewhere a *ball*, and both look the same), so
a head must see far (large rates, pooling) as well as near (shape, edges) to
score well, and different cells score differently.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Dict

import cv2
import numpy as np
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

CLASSES = ('background', 'table', 'plate', 'ball', 'box')
PALETTE = [[0, 0, 0], [140, 90, 40], [230, 230, 230], [220, 40, 40],
           [40, 80, 220]]


def _noise(rng: np.random.Generator, size: int, amp: float) -> np.ndarray:
    """Low-frequency colour noise, so flat colour alone does not classify."""
    small = rng.normal(0, amp, (max(size // 16, 2), max(size // 16, 2), 3))
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


def make_sample(rng: np.random.Generator, size: int = 128):
    """One ``(image BGR uint8, label uint8)`` pair."""
    img = np.full((size, size, 3), 90.0) + _noise(rng, size, 25)
    label = np.zeros((size, size), np.uint8)
    yy, xx = np.mgrid[:size, :size]
    # One or two tables: large rectangles with their own texture.
    for _ in range(rng.integers(1, 3)):
        h, w = rng.integers(size // 4, size // 2, 2)
        y0, x0 = rng.integers(0, size - h), rng.integers(0, size - w)
        region = (slice(y0, y0 + h), slice(x0, x0 + w))
        img[region] = np.array([60, 110, 150]) + rng.normal(0, 12, 3)
        label[region] = 1
    table = label == 1
    # Discs (plate on a table, ball elsewhere; same look) and boxes,
    # at scales from a few pixels to a quarter of the image.
    for _ in range(rng.integers(3, 8)):
        r = int(rng.choice([3, 5, 8, 12, 18]) * size / 128)
        cy, cx = rng.integers(r, size - r, 2)
        colour = np.array([200, 200, 200]) + rng.normal(0, 20, 3)
        if rng.random() < 0.6:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            cls = 2 if table[cy, cx] else 3
        else:
            mask = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
            cls = 4
        img[mask] = colour
        label[mask] = cls
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), label


def generate_synthetic_shapes(root: str, num_train: int = 64,
                              num_val: int = 16, size: int = 128,
                              seed: int = 0) -> Dict[str, int]:
    """Write the data set in mmseg's layout (``img_dir/{train,val}``,
    ``ann_dir/{train,val}``). Existing complete files are kept, so calling it
    twice is cheap; returns the number of samples per split."""
    rng = np.random.default_rng(seed)
    counts = {'train': num_train, 'val': num_val}
    for split, n in counts.items():
        os.makedirs(osp.join(root, 'img_dir', split), exist_ok=True)
        os.makedirs(osp.join(root, 'ann_dir', split), exist_ok=True)
        for i in range(n):
            img, label = make_sample(rng, size)
            name = f'{i:05d}.png'
            ann_path = osp.join(root, 'ann_dir', split, name)
            if not osp.exists(ann_path):
                cv2.imwrite(osp.join(root, 'img_dir', split, name), img)
                # the label is written last: its presence marks completion
                cv2.imwrite(ann_path, label)
    return counts


@DATASETS.register_module()
class SyntheticShapesDataset(BaseSegDataset):
    """The generated data set written by :func:`generate_synthetic_shapes`."""
    METAINFO = dict(classes=CLASSES, palette=PALETTE)

    def __init__(self, img_suffix='.png', seg_map_suffix='.png',
                 **kwargs) -> None:
        super().__init__(img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, **kwargs)
