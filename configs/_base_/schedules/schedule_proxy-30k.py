# The proxy schedule: training stops ("early stopping") at 30K iterations as
# the paper; the proxy score is the mIoU on the cached validation split.
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=4e-5)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=30000,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=30000,
                 val_interval=30000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=30000),
    sampler_seed=dict(type='DistSamplerSeedHook'))
