"""A generated segmentation data set that ships as code, not files.

Objects appear at several scales; a disc's class depends on its context (a
disc lying on a table is a *plate*, one off every table a *ball*, and both
look the same), so a head must see past the disc, further for larger
discs (large rates, pooling), as well as near (edges), to score well, and
different cells score differently. Everything else is told by colour.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Dict

import cv2
import numpy as np
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

# bump when make_sample changes: data sets written before are refused
GENERATOR_VERSION = 2
CLASSES = ('background', 'table', 'plate', 'ball', 'box')
PALETTE = [[0, 0, 0], [140, 90, 40], [230, 230, 230], [220, 40, 40],
           [40, 80, 220]]


def _noise(rng: np.random.Generator, size: int, amp: float) -> np.ndarray:
    """Low-frequency colour noise, so flat colour alone does not classify."""
    small = rng.normal(0, amp, (max(size // 16, 2), max(size // 16, 2), 3))
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


def _disc(yy, xx, cy, cx, r):
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def make_sample(rng: np.random.Generator, size: int = 128):
    """One ``(image BGR uint8, label uint8)`` pair.

    Colour tells background, table and box apart at a glance; only context
    tells a plate (a disc lying wholly on a table) from a ball (a disc
    wholly off every table): they look the same. Discs range from a few
    pixels to a fifth of the image, so the context a head needs ranges
    with them: a pixel at a large disc's centre sees the table only
    beyond the disc's radius.
    """
    img = np.full((size, size, 3), 90.0) + _noise(rng, size, 25)
    label = np.zeros((size, size), np.uint8)
    yy, xx = np.mgrid[:size, :size]
    k = size / 128
    # One or two tables: large rectangles with their own colour.
    tables = []
    for _ in range(rng.integers(1, 3)):
        h, w = rng.integers(size // 3, 2 * size // 3 + 1, 2)
        y0, x0 = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
        img[y0:y0 + h, x0:x0 + w] = (np.array([60, 110, 150]) +
                                     rng.normal(0, 12, 3))
        label[y0:y0 + h, x0:x0 + w] = 1
        tables.append((y0, x0, h, w))
    table = label == 1
    # Discs: half plates (wholly on a table), half balls (wholly off).
    for _ in range(rng.integers(3, 8)):
        r = max(1, int(rng.choice([3, 5, 8, 12, 18, 24]) * k))
        plate = rng.random() < 0.5
        for _attempt in range(20):
            if plate:
                y0, x0, h, w = tables[rng.integers(len(tables))]
                if min(h, w) <= 2 * r + 2:
                    continue
                cy = rng.integers(y0 + r + 1, y0 + h - r - 1)
                cx = rng.integers(x0 + r + 1, x0 + w - r - 1)
            else:
                cy, cx = rng.integers(r, max(r + 1, size - r), 2)
            mask = _disc(yy, xx, cy, cx, r)
            if plate or not (mask & table).any():
                img[mask] = np.array([200, 200, 200]) + rng.normal(0, 20, 3)
                label[mask] = 2 if plate else 3
                break
    # Boxes: their own colour, anywhere, at the discs' scales.
    for _ in range(rng.integers(1, 4)):
        r = max(1, int(rng.choice([3, 5, 8, 12]) * k))
        cy, cx = rng.integers(r, max(r + 1, size - r), 2)
        mask = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
        img[mask] = np.array([60, 170, 60]) + rng.normal(0, 20, 3)
        label[mask] = 4
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), label


def generate_synthetic_shapes(root: str, num_train: int = 64,
                              num_val: int = 16, size: int = 128,
                              seed: int = 0) -> Dict[str, int]:
    """Write the data set in mmseg's layout (``img_dir/{train,val}``,
    ``ann_dir/{train,val}``). Existing complete files are kept, so calling it
    twice is cheap; a ``root`` written with another size, seed or generator
    version is refused (``generator.json`` says which). Returns the number
    of samples per split."""
    stamp = dict(version=GENERATOR_VERSION, size=size, seed=seed)
    marker = osp.join(root, 'generator.json')
    if osp.exists(marker):
        with open(marker) as f:
            found = json.load(f)
        if found != stamp:
            raise ValueError(
                f'{root} holds the generated data set written with '
                f'{found}, not {stamp}: delete it or use another root')
    elif osp.isdir(osp.join(root, 'ann_dir')):
        raise ValueError(f'{root} holds a data set without generator.json '
                         '(an older generator): delete it or use another '
                         'root')
    os.makedirs(root, exist_ok=True)
    with open(marker, 'w') as f:
        json.dump(stamp, f)
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
