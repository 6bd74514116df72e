# ASPP twin of the embedded demo: a narrow MobileNetV2 trained from scratch on the
# generated data set, on one CPU.
_base_ = [
    '../_base_/models/deeplabv3plus_mobilenet-v2-d16.py',
    '../_base_/datasets/synthetic_shapes_128x128.py',
    '../_base_/default_runtime.py'
]
crop_size = (128, 128)
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(widen_factor=0.5, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=160, c1_in_channels=16, num_classes=5,
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=48, channels=64, num_classes=5,
                        norm_cfg=norm_cfg))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=4e-5))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=300,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=300, val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
