"""PASCAL-Person-Part (Chen et al. 2014): human parts on PASCAL VOC images."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class PascalPersonPartDataset(BaseSegDataset):
    """PASCAL-Person-Part, 7 classes (6 parts + background).

    Expected layout (as the DeepLab/Graphonomy conversions ship it)::

        data_root/JPEGImages/*.jpg
        data_root/SegmentationPart/*.png   # values 0..6, 255 ignored
        data_root/ImageSets/Person/{train,val}.txt
    """
    METAINFO = dict(
        classes=('background', 'head', 'torso', 'upper arms', 'lower arms',
                 'upper legs', 'lower legs'),
        palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
                 [0, 0, 128], [128, 0, 128], [0, 128, 128]])

    def __init__(self, img_suffix='.jpg', seg_map_suffix='.png',
                 **kwargs) -> None:
        super().__init__(img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, **kwargs)
