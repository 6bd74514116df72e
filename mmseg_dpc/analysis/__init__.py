"""Analysis of cells and searches: DAG drawings, branch contributions,
search plots and reports (matplotlib, imported on use)."""
from .cell_graph import draw_cell
from .plots import (branch_contributions, pareto_front,
                    plot_branch_contributions, plot_pareto,
                    plot_proxy_vs_full, plot_search_progress)
from .report import write_report

__all__ = [
    'branch_contributions', 'draw_cell', 'pareto_front',
    'plot_branch_contributions', 'plot_pareto', 'plot_proxy_vs_full',
    'plot_search_progress', 'write_report'
]
