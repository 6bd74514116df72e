import os

import numpy as np

from mmseg_dpc.datasets import SyntheticShapesDataset
from mmseg_dpc.datasets.synthetic_shapes import CLASSES, make_sample


def test_generated_layout_and_labels(shapes_root):
    ds = SyntheticShapesDataset(
        data_root=shapes_root,
        data_prefix=dict(img_path='img_dir/train',
                         seg_map_path='ann_dir/train'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations')])
    assert len(ds) == 16
    item = ds[0]
    assert item['img'].shape == (128, 128, 3)
    assert set(np.unique(item['gt_seg_map'])) <= set(range(len(CLASSES)))


def test_disc_class_depends_on_context():
    """Plates (discs on a table) and balls (elsewhere) both occur and look
    alike: the same colour statistics."""
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(30):
        _, label = make_sample(rng)
        seen |= set(np.unique(label).tolist())
    assert seen == set(range(len(CLASSES)))


def test_same_seed_same_data(tmp_path):
    from mmseg_dpc.datasets import generate_synthetic_shapes
    a, b = tmp_path / 'a', tmp_path / 'b'
    generate_synthetic_shapes(str(a), 2, 1, 32, seed=3)
    generate_synthetic_shapes(str(b), 2, 1, 32, seed=3)
    for sub in ('img_dir/train', 'ann_dir/val'):
        for name in os.listdir(a / sub):
            assert (a / sub / name).read_bytes() == (b / sub / name).read_bytes()


def test_a_root_written_otherwise_is_refused(tmp_path):
    import pytest

    from mmseg_dpc.datasets import generate_synthetic_shapes
    generate_synthetic_shapes(str(tmp_path / 'a'), 2, 1, 32)
    generate_synthetic_shapes(str(tmp_path / 'a'), 2, 1, 32)  # same: kept
    with pytest.raises(ValueError, match="written with .*'size': 32"):
        generate_synthetic_shapes(str(tmp_path / 'a'), 2, 1, 48)
    old = tmp_path / 'old'
    (old / 'ann_dir').mkdir(parents=True)
    with pytest.raises(ValueError, match='without generator.json'):
        generate_synthetic_shapes(str(old), 2, 1, 32)
