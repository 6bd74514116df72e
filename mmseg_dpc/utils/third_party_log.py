"""Third-party messages to a log file, not among a tool's own lines.

mmengine's FLOPs counter warns about every operator it does not count,
``init_weights`` reports each parameter, and mmseg warns of deprecations:
on a console those bury the few lines a tool prints for its user. While a
:func:`third_party_log` block runs, Python warnings and mmengine's logger
(information and warnings; errors still reach the console) go to a file
instead, and the tool says in one line how many warnings went there.
"""
from __future__ import annotations

import contextlib
import logging
import os
import os.path as osp
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from typing import Iterator


@dataclass
class ThirdPartyLog:
    """Where the messages went, and how many warnings were among them."""
    path: str
    count: int = 0  # warnings: Python's, and mmengine's WARNING records

    def summary(self) -> str:
        """One line for the console, ``''`` where no warning came."""
        if not self.count:
            return ''
        return (f'{self.count} third-party warning(s) (mmengine, mmseg, '
                f'torch) are in {self.path}')


class _CountingFileHandler(logging.FileHandler):
    """A ``FileHandler`` (mmengine writes its parameter-initialisation
    report straight into a logger's file handlers) of INFO and up that
    counts the warnings."""

    def __init__(self, path: str, log: ThirdPartyLog) -> None:
        super().__init__(path, delay=False)
        self.log = log
        self.setLevel(logging.INFO)
        self.setFormatter(logging.Formatter(
            '%(asctime)s %(name)s %(levelname)s: %(message)s'))

    def emit(self, record: logging.LogRecord) -> None:
        if logging.WARNING <= record.levelno < logging.ERROR:
            self.log.count += 1
        super().emit(record)


@contextlib.contextmanager
def third_party_log(path: str) -> Iterator[ThirdPartyLog]:
    """Send Python warnings and mmengine's log records below ERROR to
    ``path`` (appended) while the block runs.

    They are written to a temporary file first and appended to ``path``
    at the end, where its folder exists then: the block creates nothing
    (a tool that refuses its settings leaves no work dir behind); where the
    folder does not exist, they stay in the temporary file, which
    ``log.path`` then names."""
    from mmengine.logging import MMLogger
    fd, scratch = tempfile.mkstemp(prefix='mmseg_dpc_third_party_',
                                   suffix='.log')
    os.close(fd)
    log = ThirdPartyLog(scratch)
    handler = _CountingFileHandler(scratch, log)
    logger = MMLogger.get_current_instance()
    consoles = [(h, h.level) for h in logger.handlers
                if isinstance(h, logging.StreamHandler)
                and not isinstance(h, logging.FileHandler)]
    for h, _ in consoles:
        h.setLevel(logging.ERROR)
    logger.addHandler(handler)
    shown = warnings.showwarning

    def to_file(message, category, filename, lineno, file=None,
                line=None) -> None:
        log.count += 1
        handler.stream.write(warnings.formatwarning(
            message, category, filename, lineno, line))
        handler.flush()

    warnings.showwarning = to_file
    try:
        yield log
    finally:
        warnings.showwarning = shown
        logger.removeHandler(handler)
        for h, level in consoles:
            h.setLevel(level)
        handler.close()
        if osp.isdir(osp.dirname(osp.abspath(path))):
            with open(scratch) as src, open(path, 'a') as dst:
                shutil.copyfileobj(src, dst)
            os.remove(scratch)
            log.path = path
