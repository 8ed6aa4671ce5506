"""Hourly rollups (upid/analysis/rollup.py): quantiles from merged histograms against np.percentile on the same
values, any window of whole hours; the max exact."""

from __future__ import annotations

import numpy as np
import pytest

from upid.analysis.rollup import CPU_BUCKETS, MEMORY_BUCKETS, Buckets, peak, quantile, roll_up


def test_buckets_grow_five_percent_and_cover_every_value() -> None:
    b = Buckets(first=0.001, most=100.0)
    values = np.array([0.0, 0.0005, 0.001, 0.5, 7.3, 100.0, 1e9])
    i = b.index(values)
    assert (b.start(i[:-1]) <= values[:-1]).all() and (values[:-1] < b.start(i[:-1] + 1)).all()
    assert i[-1] == b.count - 1  # beyond `most`: the last bucket
    widths = np.diff(b.start(np.arange(10, 20)))
    assert np.allclose(widths[1:] / widths[:-1], 1.05)


@pytest.mark.parametrize("buckets, scale", [(CPU_BUCKETS, 0.5), (MEMORY_BUCKETS, 2e9)])
def test_quantiles_of_any_window_are_within_the_bucket_width(buckets, scale) -> None:
    rng = np.random.default_rng(3)
    ts = 1_767_225_600 + np.arange(14 * 24 * 12) * 300
    values = rng.gamma(2.0, scale / 2, len(ts))
    r = roll_up(ts, values, buckets)
    assert len(r.hours) == 14 * 24 and r.count.sum() == len(ts)
    for q in (50, 95, 99):
        assert quantile(r, q, buckets) == pytest.approx(np.percentile(values, q), rel=0.03)
    last_week = slice(7 * 24, None)  # hours are positions: any run of whole hours merges the same way
    tail = values[7 * 24 * 12 :]
    assert quantile(r, 95, buckets, last_week) == pytest.approx(np.percentile(tail, 95), rel=0.03)
    assert peak(r) == values.max() and peak(r, last_week) == tail.max()  # the max is exact
    assert r.total.sum() == pytest.approx(values.sum())
