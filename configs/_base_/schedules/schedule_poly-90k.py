# The paper's schedule over 90K iterations (Cityscapes).
_base_ = './schedule_poly-30k.py'
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=90000,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=90000, val_interval=9000)
default_hooks = dict(checkpoint=dict(interval=9000))
