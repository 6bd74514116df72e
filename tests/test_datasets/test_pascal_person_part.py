import cv2
import numpy as np

from mmseg_dpc.datasets import PascalPersonPartDataset


def test_loads_the_documented_layout(tmp_path):
    (tmp_path / 'JPEGImages').mkdir()
    (tmp_path / 'SegmentationPart').mkdir()
    (tmp_path / 'ImageSets' / 'Person').mkdir(parents=True)
    for name in ('2008_000001', '2008_000002'):
        cv2.imwrite(str(tmp_path / 'JPEGImages' / f'{name}.jpg'),
                    np.zeros((20, 30, 3), np.uint8))
        label = np.full((20, 30), 6, np.uint8)
        cv2.imwrite(str(tmp_path / 'SegmentationPart' / f'{name}.png'), label)
    (tmp_path / 'ImageSets' / 'Person' / 'train.txt').write_text(
        '2008_000001\n2008_000002\n')
    ds = PascalPersonPartDataset(
        data_root=str(tmp_path),
        data_prefix=dict(img_path='JPEGImages',
                         seg_map_path='SegmentationPart'),
        ann_file='ImageSets/Person/train.txt',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations')])
    assert len(ds) == 2
    assert ds.metainfo['classes'] == (
        'background', 'head', 'torso', 'upper arms', 'lower arms',
        'upper legs', 'lower legs')
    item = ds[1]
    assert item['img'].shape == (20, 30, 3)
    assert set(np.unique(item['gt_seg_map'])) == {6}
