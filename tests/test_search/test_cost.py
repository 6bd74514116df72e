import pytest
import torch
from mmengine.analysis import get_model_complexity_info
from mmseg.registry import MODELS

from mmseg_dpc.models.utils import TOP1_CITYSCAPES, parse_cell
from mmseg_dpc.search import (Architecture, DPCSearchSpace, cell_cost,
                              head_cost)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_released_cell_closed_form():
    cell = parse_cell(TOP1_CITYSCAPES)
    assert cell_cost(cell, 2048, (65, 129)).params == 1_150_976
    assert cell_cost(cell, 320, (65, 129)).params == 689_600
    paper = cell_cost(cell, 2048, (65, 129))
    assert paper.paper_params == 814_080
    assert cell_cost(cell, 320, (65, 129)).paper_params == 356_160
    # The paper's MAdds (Table 1, module only, 65x129 features): branch
    # convs x H x W = 6.83B on Xception, 2.99B on MobileNet-v2 (paper: 6.84B,
    # 3.00B). Our madds add the projection's multiply-adds on top.
    hw = 65 * 129
    for c, paper_weights in ((2048, 814_080), (320, 356_160)):
        cost = cell_cost(cell, c, (65, 129))
        projection = 5 * 256 * 256 * hw
        assert cost.madds - projection == paper_weights * hw
    assert round(814_080 * hw / 1e9, 2) == 6.83


@pytest.mark.parametrize('decoder', [False, True])
def test_every_sampled_head_matches_prediction(decoder):
    space = DPCSearchSpace()
    kw = dict(in_channels=24, channels=16, num_classes=3)
    if decoder:
        kw.update(c1_in_channels=8, c1_channels=4)
    for arch in space.samples(25, seed=11 + decoder):
        head = MODELS.build(arch.head_config(norm_cfg=dict(type='BN'), **kw))
        pred = head_cost(arch.branches, feature_size=(9, 11),
                         c1_size=(33, 41) if decoder else None, **kw)
        assert n_params(head) == pred.params, arch


ALL_OPS = Architecture([
    dict(op='conv', kernel=3, rate=[6, 21], input=-1),
    dict(op='pyramid_pooling', grid_size=[1, 1], input=-1),
    dict(op='pyramid_pooling', grid_size=[2, 8], input=0),
    dict(op='conv', kernel=1, input=2),
    dict(op='conv', kernel=3, rate=[1, 1], input=3),
])


@pytest.mark.parametrize('decoder, output_stride', [(False, 16), (True, 16),
                                                    (False, 8)])
def test_flops_match_mmengine_counter(decoder, output_stride):
    """Exact, also where rates reach past the 9x11 map and the separable
    convs skip the taps that read only padding."""
    space = DPCSearchSpace()
    kw = dict(in_channels=24, channels=16, num_classes=3,
              output_stride=output_stride)
    feats = [torch.zeros(1, 24, 9, 11)]
    if decoder:
        kw.update(c1_in_channels=8, c1_channels=4)
        feats.insert(0, torch.zeros(1, 8, 33, 41))
    archs = [ALL_OPS] + list(space.samples(5, seed=5))
    for arch in archs:
        head = MODELS.build(arch.head_config(
            norm_cfg=dict(type='BN'), in_index=-1, **kw)).eval()
        counted = get_model_complexity_info(head, inputs=(feats, ),
                                            show_table=False,
                                            show_arch=False)
        pred = head_cost(arch.branches, feature_size=(9, 11),
                         c1_size=(33, 41) if decoder else None, **kw)
        assert counted['flops'] == pred.flops, arch
        assert counted['params'] == pred.params


def test_flops_count_only_taps_that_read_pixels():
    """A 3x3 at rate 21 on an 8x8 map executes its centre tap only; the
    paper's MAdds still count all nine."""
    wide = parse_cell([dict(op='conv', kernel=3, rate=[21, 21], input=-1)])
    one = parse_cell([dict(op='conv', kernel=3, rate=[1, 1], input=-1)])
    small_wide, small_one = (cell_cost(c, 32, (8, 8), 16) for c in (wide, one))
    assert small_wide.madds == small_one.madds
    dw = 32 * 8 * 8
    assert small_one.flops - small_wide.flops == 8 * dw
    assert (cell_cost(wide, 32, (8, 8), 16, output_stride=8).flops
            == small_wide.flops)
    assert cell_cost(wide, 32, (64, 64), 16).flops == \
        cell_cost(one, 32, (64, 64), 16).flops


def test_model_head_cost_matches_mmengine_counter_on_a_full_model():
    """The re-ranked models' head cost (closed form, decoder included) is
    what mmengine counts for the demo model's decode head."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmseg_dpc
    mmseg_dpc.register_all_modules()  # DPCHead & co. in mmseg's registries
    from mmseg_dpc.search.cost import model_head_cost
    from ..conftest import DEMO_CONFIG
    cfg = Config.fromfile(DEMO_CONFIG)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model).eval()
    feats = model.extract_feat(torch.zeros(1, 3, 128, 128))
    counted = get_model_complexity_info(model.decode_head,
                                        inputs=(list(feats), ),
                                        show_table=False, show_arch=False)
    cost = model_head_cost(cfg, (128, 128))(
        Architecture(cfg.model.decode_head.arch).branches)
    assert cost['params'] == counted['params']
    assert cost['flops'] == counted['flops']
