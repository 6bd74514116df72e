# Cached backbone features (tools/cache_features.py PROXY_CONFIG writes them
# to `cache_root`). Set `device='cuda'` on the datasets to hold the whole
# cache in accelerator memory and augment there.
cache_root = 'work_dirs/feature_cache'
# What the cache must be made from, besides `feature_source` and
# `feature_levels`: the backbone weights (`tools/cache_features.py
# --checkpoint`; None = its seeded initialisation) and the stored dtype.
# Training or searching on a cache made otherwise is refused.
feature_checkpoint = None
feature_dtype = 'float16'
dataset_type = 'CachedFeatureDataset'
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=cache_root, split='train',
                 crop_size=None, flip_prob=0.5))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=cache_root, split='val',
                 test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
