"""The full task, set up once for all who train on it: re-ranking, the
verdict and the fidelity tool each train their models as the search
config's ``rerank`` says (``full_config``, ``cfg_options``, the backbone of
``init_from``, ``timeout``), and count their heads' cost on the model's
crop."""
from __future__ import annotations

from typing import Optional, Tuple

from mmengine.config import Config

from .runner import TrialRunner, load_base_config
from .settings import RerankSettings


def full_task_config(rerank: RerankSettings, path: Optional[str] = None
                     ) -> Config:
    """The base config of the full task's models: ``rerank.full_config``
    (its DPC head takes each cell), or with ``path`` a baseline config
    trained as it is, whatever its head."""
    return load_base_config(path or rerank.full_config, rerank.cfg_options,
                            rerank.init_from, any_head=path is not None)


def full_task_runner(rerank: RerankSettings, launcher, seed: int = 0,
                     threads_per_trial: Optional[int] = None) -> TrialRunner:
    """A :class:`~.runner.TrialRunner` of the full task: its records say
    what the models started from (``rerank.initialised``)."""
    return TrialRunner(launcher, full_task_config(rerank), seed=seed,
                       timeout=rerank.timeout,
                       threads_per_trial=threads_per_trial,
                       initialised=rerank.initialised,
                       on_changed=rerank.on_changed)


def crop_size(cfg: Config) -> Optional[Tuple[int, int]]:
    """The input size a model config trains on (``crop_size``, else its
    data preprocessor's ``size``), on which its head's cost is counted;
    ``None`` where it sets none."""
    size = cfg.get('crop_size') or cfg.model.get(
        'data_preprocessor', {}).get('size')
    return tuple(size) if size else None
