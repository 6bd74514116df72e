import pytest
import torch
import torch.nn as nn

from mmseg_dpc.models.utils import AtrousConv2d, kept_taps


def test_kept_taps():
    assert kept_taps(3, 6, 6, 8) == (1, 1)      # 6 < 8: both taps can read
    assert kept_taps(3, 8, 8, 8) == (0, 1)      # 8 >= 8: only padding
    assert kept_taps(3, 18, 18, 65) == (1, 1)
    assert kept_taps(5, 3, 6, 7) == (2, 2)      # offsets 3, 6 < 7
    assert kept_taps(5, 4, 8, 7) == (1, 2)      # offset 8 >= 7 is dropped
    assert kept_taps(3, 6, 0, 4) == (1, 1)      # not "same" padding: keep
    assert kept_taps(3, 6, 6, 4, stride=2) == (1, 1)


@pytest.mark.parametrize('groups', [1, 'depthwise'])
@pytest.mark.parametrize('dilation, size', [
    ((18, 15), (8, 8)),     # both axes collapse to the centre tap
    ((6, 21), (8, 8)),      # a 3x1 kernel remains
    ((1, 6), (8, 8)),       # nothing to skip
    ((12, 3), (9, 11)),
    ((42, 42), (17, 65)),   # rate 21 at output stride 8
])
def test_same_output_and_gradients_as_conv2d(groups, dilation, size):
    torch.manual_seed(0)
    c = 6
    g = c if groups == 'depthwise' else 1
    ref = nn.Conv2d(c, c, 3, padding=dilation, dilation=dilation, groups=g,
                    bias=True)
    conv = AtrousConv2d(c, c, 3, padding=dilation, dilation=dilation,
                        groups=g, bias=True)
    conv.load_state_dict(ref.state_dict())
    x1 = torch.randn(2, c, *size, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    gy = torch.randn(2, c, *size)
    y1, y2 = ref(x1), conv(x2)
    torch.testing.assert_close(y2, y1, rtol=1e-5, atol=1e-5)
    (y1 * gy).sum().backward()
    (y2 * gy).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(conv.weight.grad, ref.weight.grad,
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(conv.bias.grad, ref.bias.grad)


def test_skipped_taps_get_zero_gradient_and_state_dict_is_conv2d():
    conv = AtrousConv2d(4, 4, 3, padding=(18, 15), dilation=(18, 15),
                        groups=4, bias=False)
    conv(torch.randn(1, 4, 8, 8)).sum().backward()
    grad = conv.weight.grad[:, 0]
    assert grad[:, 1, 1].abs().sum() > 0
    mask = torch.ones(3, 3, dtype=torch.bool)
    mask[1, 1] = False
    assert grad[:, mask].abs().sum() == 0
    assert set(conv.state_dict()) == {'weight'}
    assert conv.weight.shape == (4, 1, 3, 3)
