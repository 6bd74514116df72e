# A data set of your own, written once: the DPC, ASPP, proxy and search
# configs of docs/en/user_guides/2_search_your_dataset.md all follow it
# (configs/*/*_my-dataset-192x192.py). Here mmseg's generic BaseSegDataset
# reads a folder in mmseg's layout: images in img_dir/{train,val}, label
# maps (one class index per pixel, 255 = ignore) in ann_dir/{train,val}.
# Put your own registered data set class or one of mmseg's (e.g.
# 'ADE20KDataset') in `dataset_type`, and its folders and suffixes below.
# As shipped it reads the generated data set, written there by
#   python tools/misc/make_synthetic_shapes.py data/my_dataset --size 192
_base_ = './my_dataset_example_classes.py'
dataset_type = 'BaseSegDataset'
data_root = 'data/my_dataset'
crop_size = (192, 192)  # training crop; the models' input size follows it
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.9),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
# validation sees images at the scale training sees them (labels loaded
# after the resize stay at their own size: mIoU at full label resolution)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
# what tools/cache_features.py runs the backbone on: the validation scale,
# no augmentation, labels resized with the images (the proxy's labels live
# at the cache's scale), every image of one size
cache_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
        img_suffix='.png',
        seg_map_suffix='.png',
        metainfo={{_base_.metainfo}},
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        img_suffix='.png',
        seg_map_suffix='.png',
        metainfo={{_base_.metainfo}},
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
