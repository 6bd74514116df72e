# The proxy schedule: the paper's optimiser and poly LR; training stops
# ("early stopping") at 30K iterations as the paper, and the proxy score is
# the mIoU on the cached validation split at that point. No visualisation
# hook: cached features have no images to draw on.
_base_ = './schedule_poly-30k.py'
train_cfg = dict(val_interval=30000)
default_hooks = dict(
    _delete_=True,
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=30000),
    sampler_seed=dict(type='DistSamplerSeedHook'))
