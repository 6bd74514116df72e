import io

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import mmseg_dpc

mmseg_dpc.register_all_modules()  # DPCHead & co. in mmseg's registries


def _roundtrip(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_message_hub_state_loads_weights_only():
    hub = MessageHub.get_instance('test_checkpoint')
    for i in range(5):
        hub.update_scalar('train/loss', float(i))
    hub.update_info('iter', np.int64(4))
    state = _roundtrip({'message_hub': hub.state_dict(),
                        'meta': {'seed': np.int64(0), 'arr': np.arange(3.)}})
    buf = state['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    assert buf.mean() == 2.0 and buf.max() == 4.0 and buf.current() == 4.0
    assert state['meta']['arr'].tolist() == [0.0, 1.0, 2.0]


def test_arbitrary_globals_still_refused():
    buf = io.BytesIO()
    torch.save({'f': np.save}, buf)
    buf.seek(0)
    with pytest.raises(Exception, match='Unsupported global'):
        torch.load(buf, weights_only=True)
