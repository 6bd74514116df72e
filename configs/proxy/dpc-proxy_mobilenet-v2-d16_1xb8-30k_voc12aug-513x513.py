# Proxy task, PASCAL VOC 2012 + aug (images resized and padded to 513x513):
# the DPC alone, trained on cached MobileNetV2 (OS 16) features of
# `feature_source`. Build the cache first: tools/cache_features.py THIS
_base_ = [
    '../_base_/models/dpc-proxy.py', '../_base_/datasets/cached_features.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_proxy-30k.py'
]
feature_source = \
    'configs/dpc/dpc_mobilenet-v2-d16_8xb2-30k_voc12aug-513x513.py'
feature_levels = [3]  # MobileNetV2 out_indices[3]: 320 channels, stride 16
cache_root = 'work_dirs/feature_cache/voc12aug_mobilenet-v2-d16'
cache_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),  # before Resize, which resizes it too
    dict(type='Resize', scale=(513, 513), keep_ratio=True),
    dict(type='Pad', size=(513, 513), pad_val=dict(img=0, seg=255)),
    dict(type='PackSegInputs')
]
model = dict(decode_head=dict(num_classes=21))
train_dataloader = dict(
    dataset=dict(data_root=cache_root, crop_size=None))
val_dataloader = dict(dataset=dict(data_root=cache_root))
test_dataloader = val_dataloader
