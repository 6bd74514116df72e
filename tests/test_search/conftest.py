import pytest


@pytest.fixture(scope='session')
def feature_cache(tmp_path_factory, shapes_root) -> str:
    """Cached demo-backbone features of the generated data set."""
    from mmengine.config import Config

    from mmseg_dpc.feature_cache import cache_features

    from ..conftest import DEMO_CONFIG
    cfg = Config.fromfile(DEMO_CONFIG)
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = shapes_root
    out = str(tmp_path_factory.mktemp('feature_cache'))
    for split in ('train', 'val'):
        cache_features(cfg, split, out, levels=[3], device='cpu',
                       progress=False, shard_size=8)
    return out


@pytest.fixture(scope='session')
def postgres_url():
    """A real PostgreSQL server on loopback, started for the tests; it dies
    with the test run, however the run ends (:mod:`.postgres`)."""
    from .postgres import start_server, stop_server
    try:
        server = start_server()
    except RuntimeError as e:
        pytest.fail(str(e))
    yield server.url
    stop_server(server)
