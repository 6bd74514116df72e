"""Proxy-vs-full rank correlations and their p-values."""
import pytest
from scipy.stats import kendalltau

from mmseg_dpc.search.rerank import rank_correlation


def test_a_few_points_get_exact_p_values():
    r = rank_correlation([1.0, 2.0, 3.0], [10.0, 20.0, 30.0])
    assert r['spearman'] == pytest.approx(1.0)
    # 2 of the 3! orderings are as extreme: p = 1/3, not scipy's 0
    assert r['spearman_p'] == pytest.approx(1 / 3)
    assert r['kendall_p'] == pytest.approx(1 / 3)


def test_exact_kendall_p_matches_scipys_exact_method():
    proxy = [0.1, 0.5, 0.3, 0.9, 0.7, 0.2]
    full = [1.0, 3.0, 4.0, 6.0, 5.0, 2.0]
    r = rank_correlation(proxy, full)
    tau, p = kendalltau(proxy, full, method='exact')
    assert r['kendall'] == pytest.approx(tau)
    assert r['kendall_p'] == pytest.approx(p)


def test_undefined_correlations_are_none():
    assert rank_correlation([1.0], [2.0])['spearman'] is None
    assert rank_correlation([1.0, 1.0], [2.0, 3.0])['kendall_p'] is None
