# PASCAL VOC 2012 + SBD augmented set, 513x513 crops as the paper.
_base_ = 'mmseg::_base_/datasets/pascal_voc12_aug.py'
crop_size = (513, 513)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 513), ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='Pad', size=crop_size),
    dict(type='PackSegInputs')
]
dataset_train = dict(pipeline=train_pipeline)
dataset_aug = dict(pipeline=train_pipeline)
train_dataloader = dict(
    dataset=dict(datasets=[{{_base_.dataset_train}}, {{_base_.dataset_aug}}]))
