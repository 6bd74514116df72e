# The embedded demo's schedule: the paper's (SGD, poly learning rate to 0)
# shortened to 300 iterations from a learning rate of 0.05, for one CPU.
_base_ = './schedule_poly-30k.py'
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=300,
         by_epoch=False)
]
train_cfg = dict(max_iters=300, val_interval=100)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=100))
