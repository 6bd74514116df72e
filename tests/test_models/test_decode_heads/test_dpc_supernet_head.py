"""The supernet head: sampled training, and exact export into a DPCHead."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmseg_dpc  # noqa: F401
from mmseg_dpc.models.decode_heads import export_cell_state_dict
from mmseg_dpc.models.utils import TOP1_CITYSCAPES, parse_cell

from ..test_utils.test_dpc_supernet import CHAINED, randomise_bn

BN = dict(type='BN', requires_grad=True)


def head_cfg(**kw):
    cfg = dict(type='DPCSupernetHead', in_channels=12, in_index=0,
               channels=8, num_classes=3, norm_cfg=BN, output_stride=8,
               rate_multiplier=1, rates=(1, 3, 6, 9, 12, 15, 18, 21))
    cfg.update(kw)
    return cfg


def samples(n, size):
    out = []
    for _ in range(n):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, *size)))
        s.set_metainfo(dict(img_shape=size, ori_shape=size, pad_shape=size))
        out.append(s)
    return out


@pytest.mark.parametrize('sharing', ['rate_pair', 'position'])
def test_exported_cell_gives_the_same_logits_in_a_dpc_head(sharing):
    torch.manual_seed(0)
    head = MODELS.build(head_cfg(sharing=sharing))
    randomise_bn(head, 3)
    head.eval()
    x = [torch.randn(2, 12, 9, 11)]
    archs = [TOP1_CITYSCAPES, CHAINED] + [head.sample_arch(i)
                                          for i in range(5)]
    for arch in archs:
        cfg = head.cell_head_config(arch)
        assert cfg['type'] == 'DPCHead' and cfg['rate_multiplier'] == 1
        alone = MODELS.build(cfg).eval()
        alone.load_state_dict(export_cell_state_dict(head, arch),
                              strict=True)
        with torch.no_grad():
            torch.testing.assert_close(alone(x), head(x, arch), rtol=1e-5,
                                       atol=1e-6)


def test_export_prefix_loads_into_a_segmentor():
    head = MODELS.build(head_cfg())
    seg = MODELS.build(dict(type='CachedFeatureSegmentor',
                            decode_head=head.cell_head_config(CHAINED)))
    seg.load_state_dict(export_cell_state_dict(head, CHAINED,
                                               prefix='decode_head.'),
                        strict=True)


@pytest.mark.parametrize('kind,module', [('element', torch.nn.Dropout),
                                         ('channel', torch.nn.Dropout2d)])
def test_the_cell_dropout_type_is_the_supernets_and_its_exports(kind,
                                                                module):
    head = MODELS.build(head_cfg(cell_dropout_type=kind))
    assert type(head.supernet.dropout) is module
    exported = MODELS.build(head.cell_head_config(CHAINED))
    assert type(exported.dpc.dropout) is module


@pytest.mark.parametrize('sampling', ['uniform', 'fair'])
def test_training_samples_the_seeded_sequence_and_counts_it(sampling):
    head = MODELS.build(head_cfg(sample_seed=5, sampling=sampling))
    assert int(head.num_sampled) == 0
    trained = []
    orig = head.supernet.forward

    def spy(x, arch):
        trained.append(parse_cell(arch))
        return orig(x, arch)

    head.supernet.forward = spy
    x = [torch.randn(2, 12, 6, 6)]
    for _ in range(3):
        losses = head.loss(x, samples(2, (48, 48)), {})
        assert torch.isfinite(losses['loss_ce'])
    assert trained == [head.sample_arch(i) for i in range(3)]
    assert trained == [head.supernet.sample(5, i, sampling)
                       for i in range(3)]
    assert int(head.num_sampled) == 3
    # the counter is saved: a resumed head continues the sequence
    again = MODELS.build(head_cfg(sample_seed=5, sampling=sampling))
    again.load_state_dict(head.state_dict())
    assert int(again.num_sampled) == 3
    other = MODELS.build(head_cfg(sample_seed=6, sampling=sampling))
    assert [other.sample_arch(i) for i in range(3)] != trained


def test_only_the_sampled_path_gets_gradients():
    head = MODELS.build(head_cfg())
    x = [torch.randn(2, 12, 6, 6)]
    head.loss(x, samples(2, (48, 48)), {})['loss_ce'].backward()
    cell = head.sample_arch(0)
    path = [head.supernet.branch_module(i, b) for i, b in enumerate(cell)]
    path += [head.supernet.project, head.conv_seg]
    on_path = {id(p) for m in path for p in m.parameters()}
    got = {id(p) for p in head.parameters() if p.grad is not None}
    assert got == on_path
    assert len(on_path) < len(list(head.parameters())) / 10


def test_inference_computes_the_active_cell():
    head = MODELS.build(head_cfg(eval_arch=CHAINED)).eval()
    x = [torch.randn(1, 12, 6, 6)]
    with torch.no_grad():
        torch.testing.assert_close(head(x), head(x, CHAINED))
        head.set_arch(TOP1_CITYSCAPES)
        assert head.active_arch == parse_cell(TOP1_CITYSCAPES)
        torch.testing.assert_close(head(x), head(x, TOP1_CITYSCAPES))
        head.set_arch(None)
        assert head.active_arch == parse_cell(CHAINED)
    plain = MODELS.build(head_cfg())
    assert plain.active_arch == plain.sample_arch(-1)
    # the monitor's cell is the same whatever the training's sampling
    fair = MODELS.build(head_cfg(sampling='fair'))
    assert fair.active_arch == plain.active_arch != fair.sample_arch(-1)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match='sharing'):
        MODELS.build(head_cfg(sharing='pairs'))
    with pytest.raises(ValueError, match="branch 0: field 'rate'"):
        MODELS.build(head_cfg(eval_arch=[dict(op='conv', kernel=3,
                                              rate=[2, 2], input=-1)] * 5))
    with pytest.raises(ValueError, match='sample_seed'):
        MODELS.build(head_cfg(sample_seed='0'))
    with pytest.raises(ValueError, match="sampling must be one of "
                       r"\['uniform', 'fair'\], got 'fairest'"):
        MODELS.build(head_cfg(sampling='fairest'))
    with pytest.raises(ValueError, match="dropout_type must be one of "
                       r"\['channel', 'element'\], got 'pixel'"):
        MODELS.build(head_cfg(cell_dropout_type='pixel'))
