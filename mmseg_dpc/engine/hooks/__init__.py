from .metrics_file_hook import (METRICS_FILE, MetricsFileHook,
                                add_metrics_hook, read_metrics,
                                read_metrics_file)

__all__ = ['METRICS_FILE', 'MetricsFileHook', 'add_metrics_hook',
           'read_metrics', 'read_metrics_file']
