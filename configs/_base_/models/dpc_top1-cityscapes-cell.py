# The released top-1 Cityscapes cell (Chen et al. 2018;
# dense_prediction_cell_branch5_top1_cityscapes.json), shared by the DPC
# model configs as `dpc_arch`.
dpc_arch = [
    dict(op='conv', kernel=3, rate=[1, 6], input=-1),
    dict(op='conv', kernel=3, rate=[18, 15], input=0),
    dict(op='conv', kernel=3, rate=[6, 3], input=1),
    dict(op='conv', kernel=3, rate=[1, 1], input=0),
    dict(op='conv', kernel=3, rate=[6, 21], input=0),
]
