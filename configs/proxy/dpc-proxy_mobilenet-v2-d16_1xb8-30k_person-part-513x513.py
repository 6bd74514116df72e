# Proxy task, PASCAL-Person-Part (images resized and padded to 513x513 as
# the VOC proxy): the DPC alone, trained on cached MobileNetV2 (OS 16)
# features of `feature_source`. Build the cache first:
# tools/cache_features.py THIS
_base_ = './dpc-proxy_mobilenet-v2-d16_1xb8-30k_voc12aug-513x513.py'
feature_source = \
    'configs/dpc/dpc_mobilenet-v2-d16_8xb2-30k_person-part-513x513.py'
cache_root = 'work_dirs/feature_cache/person-part_mobilenet-v2-d16'
model = dict(decode_head=dict(num_classes=7))
train_dataloader = dict(dataset=dict(data_root=cache_root))
val_dataloader = dict(dataset=dict(data_root=cache_root))
test_dataloader = val_dataloader
