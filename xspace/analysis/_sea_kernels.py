"""numba kernels of superposed epoch and association analysis (issue 3).

Small pure functions on arrays, compiled on first call and cached on disk (``cache=True``). Each has a
plain-numpy reference implementation in ``tests/test_sea.py`` / ``tests/test_assoc.py``.

Algorithms (why they are fast):

- epoch matching: one binary search per epoch, then pointer walks outwards over the successive lag
  times (O(1) per lag on regular data) instead of a search per lag;
- per-lag order statistics (quartiles, median) by quickselect on the lag's values, not a sort;
- bootstrap of the median: the lag's sample is sorted once; the resample's middle order statistics
  (positions in the sorted sample) are drawn directly and exactly from their distribution (a Beta
  variate and a uniform, see :func:`boot_median_positions`) instead of drawing n values and sorting;
- association counts: two pointers moving forward through the sorted second series per lag, keeping
  per lag the histogram of the per-event numbers;
- association bootstrap: a resampled total is ``sum_c c * N_c`` with ``N`` multinomial over the few
  distinct per-event numbers, drawn as conditional binomials (a CDF table for the large one).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_BLOCK = 64  # lags gathered per block (a block of 64 lags x epochs stays in cache)


@njit(cache=True, nogil=True)
def match_indices(times, epochs, n_side, step, tolerance):  # pragma: no cover - compiled
    """Sample index of every (epoch, lag) pair, -1 where no sample is within ``tolerance``.

    ``times`` (int64 ns, strictly increasing), ``epochs`` (int64 ns). Lag ``k`` (``-n_side..n_side``)
    of an epoch takes the sample nearest to ``epoch + k * step`` (exact tie: the earlier sample). One
    binary search per epoch, then pointer walks forwards and backwards over the lag times. Returns an
    int32 array ``(n_epochs, 2 * n_side + 1)`` (fewer than 2**31 samples).
    """
    n = times.shape[0]
    nl = 2 * n_side + 1
    out = np.full((epochs.shape[0], nl), -1, np.int32)
    for e in range(epochs.shape[0]):
        x = epochs[e]
        first = np.searchsorted(times, x)  # first index with times[i] >= x
        # forward walk over lags 0..n_side: keep times[i] <= target < times[i + 1] (i may be -1)
        i = first if first < n and times[first] == x else first - 1
        for k in range(n_side, nl):
            target = x + (k - n_side) * step
            if i + 1 < n and times[i + 1] == target:  # regular data on the lag grid: the next sample
                i += 1
                out[e, k] = i
                continue
            while i + 1 < n and times[i + 1] <= target:
                i += 1
            if i < 0:
                best = 0
            elif i + 1 < n and times[i + 1] - target < target - times[i]:
                best = i + 1
            else:
                best = i
            if abs(times[best] - target) <= tolerance:
                out[e, k] = best
        # backward walk over lags -1..-n_side: keep times[i - 1] < target <= times[i] (i may be n)
        i = first
        for k in range(n_side - 1, -1, -1):
            target = x + (k - n_side) * step
            if i - 1 >= 0 and times[i - 1] == target:
                i -= 1
                out[e, k] = i
                continue
            while i - 1 >= 0 and times[i - 1] >= target:
                i -= 1
            if i >= n:
                best = n - 1
            elif i - 1 >= 0 and target - times[i - 1] <= times[i] - target:
                best = i - 1
            else:
                best = i
            if abs(times[best] - target) <= tolerance:
                out[e, k] = best
    return out


@njit(cache=True, nogil=True)
def _select(a, lo, hi, k):  # pragma: no cover - compiled
    """Quickselect: reorder ``a[lo:hi]`` so that ``a[k]`` is its (k-lo)-th smallest value.

    Branch-free Lomuto partitions (random data makes partition branches unpredictable) into
    ``< pivot``, ``== pivot`` and ``> pivot``, so many equal values (Kp, counts) cost no extra passes.
    """
    while hi - lo > 16:
        mid = (lo + hi) // 2
        x, y, z = a[lo], a[mid], a[hi - 1]
        if x < y:
            pivot = y if y < z else (z if x < z else x)
        else:
            pivot = x if x < z else (z if y < z else y)
        s = lo
        for i in range(lo, hi):
            v = a[i]
            a[i] = a[s]
            a[s] = v
            s += 1 if v < pivot else 0
        if k < s:
            hi = s
            continue
        s2 = s
        for i in range(s, hi):  # everything here is >= pivot: gather the values equal to it
            v = a[i]
            a[i] = a[s2]
            a[s2] = v
            s2 += 1 if v <= pivot else 0
        if k < s2:
            return
        lo = s2
    for i in range(lo + 1, hi):  # small range: insertion sort
        v = a[i]
        j = i - 1
        while j >= lo and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v


@njit(cache=True, nogil=True)
def _min_from(a, lo, hi):  # pragma: no cover - compiled
    m = a[lo]
    for i in range(lo + 1, hi):
        if a[i] < m:
            m = a[i]
    return m


@njit(cache=True, nogil=True)
def _lerp(a, b, t):  # pragma: no cover - compiled
    # numpy's linear interpolation of percentiles (same rounding as numpy's _lerp)
    d = b - a
    if t >= 0.5:
        return b - d * (1.0 - t)
    return a + d * t


@njit(cache=True, nogil=True)
def order_stats(a, m, out):  # pragma: no cover - compiled
    """q25, median, q75 of ``a[:m]`` (numpy 'linear' percentiles; median as ``numpy.median``).

    Median first on the whole sample, then each quartile within its half. Reorders ``a[:m]``; writes
    ``out[0:3]``. ``m >= 1``.
    """
    pos = 0.5 * (m - 1)
    k50 = int(np.floor(pos))
    _select(a, 0, m, k50)
    v50 = a[k50]
    out[1] = (v50 + _min_from(a, k50 + 1, m)) * 0.5 if pos > k50 else v50
    # lower quartile: among a[:k50], the k50 smallest values
    pos = 0.25 * (m - 1)
    k = int(np.floor(pos))
    if k < k50:
        _select(a, 0, k50, k)
    lo = a[k]
    if pos > k:
        if k + 1 < k50:
            hi = _min_from(a, k + 1, k50)
        elif k + 1 == k50:
            hi = v50
        else:  # k == k50 (m == 2)
            hi = _min_from(a, k50 + 1, m)
        out[0] = _lerp(lo, hi, pos - k)
    else:
        out[0] = lo
    # upper quartile: among a[k50 + 1:]
    pos = 0.75 * (m - 1)
    k = int(np.floor(pos))
    if k > k50:
        _select(a, k50 + 1, m, k)
    lo = a[k]
    out[2] = _lerp(lo, _min_from(a, k + 1, m), pos - k) if pos > k else lo


@njit(cache=True, nogil=True)
def _median(a, m):  # pragma: no cover - compiled
    """numpy.median of ``a[:m]`` by selection (reorders ``a[:m]``), ``m >= 1``."""
    k = (m - 1) // 2
    _select(a, 0, m, k)
    if m % 2 == 1:
        return a[k]
    return (a[k] + _min_from(a, k + 1, m)) * 0.5


@njit(cache=True, nogil=True)
def boot_median_positions(n, n_boot, seed):  # pragma: no cover - compiled
    """Sorted-sample positions of the two middle values of ``n_boot`` bootstrap resamples of size n.

    A resample draws n positions uniformly with replacement from a sorted sample; its median is the
    mean of the values at the returned positions ``(ia, ib)`` (equal for odd n). Exact in
    distribution without drawing the n positions: a uniform position is ``floor(n * U)`` with U
    uniform on (0, 1), and floor is monotone, so the rank-r position of the resample is
    ``floor(n * U_(r))`` where the order statistic ``U_(r) ~ Beta(r + 1, n - r)``; the next one is
    the smallest of the ``n - r - 1`` uniforms above it, ``U_(r) + (1 - U_(r)) (1 - W ** (1 / (n - r - 1)))``.
    """
    np.random.seed(seed)
    out = np.empty((n_boot, 2), np.int64)
    ra = (n - 1) // 2
    rb = n // 2
    for s in range(n_boot):
        v = np.random.beta(ra + 1.0, n - ra * 1.0)
        ia = min(int(n * v), n - 1)
        if rb == ra:
            ib = ia
        else:
            v2 = v + (1.0 - v) * (1.0 - np.random.random() ** (1.0 / (n - ra - 1)))
            ib = min(int(n * v2), n - 1)
        out[s, 0] = ia
        out[s, 1] = ib
    return out


@njit(cache=True, nogil=True)
def _percentile_sorted(x, q):  # pragma: no cover - compiled
    n = x.shape[0]
    pos = q / 100.0 * (n - 1)
    k = int(np.floor(pos))
    if k >= n - 1:
        return x[n - 1]
    return _lerp(x[k], x[k + 1], pos - k)


@njit(cache=True, nogil=True)
def _bootstrap_ci(sample, m, n_boot, ci_mode, q_low, q_high, seed, res):  # pragma: no cover - compiled
    """Bootstrap CI of the median (ci_mode 1) or mean (2) of ``sample[:m]``; writes ``res[0:2]``."""
    x = np.sort(sample[:m])
    reps = np.empty(n_boot)
    if ci_mode == 1:
        pos = boot_median_positions(m, n_boot, seed)
        for s in range(n_boot):
            a = x[pos[s, 0]]
            b = x[pos[s, 1]]
            reps[s] = a if pos[s, 0] == pos[s, 1] else (a + b) * 0.5
    else:
        np.random.seed(seed)
        for s in range(n_boot):
            t = 0.0
            for _ in range(m):
                t += x[np.random.randint(0, m)]
            reps[s] = t / m
    reps.sort()
    res[0] = _percentile_sorted(reps, q_low)
    res[1] = _percentile_sorted(reps, q_high)


@njit(cache=True, nogil=True)
def sea_stats(y, idx, n_boot, ci_mode, q_low, q_high, seeds):  # pragma: no cover - compiled
    """Per-lag statistics of a superposed epoch analysis.

    ``y`` (n_comp, n_time) float64; ``idx`` (n_epochs, n_lags) int32 from :func:`match_indices`
    (-1: no sample). Returns (n_comp, n_stat, n_lags) float64 with rows mean, median, q25, q75,
    count and, when ``ci_mode`` is 1 (median) or 2 (mean), ci_low, ci_high (NaN for <= 2 values),
    bootstrapped with ``n_boot`` resamples seeded by ``seeds[lag]``. NaN values are ignored; a lag
    without values gets NaN statistics and count 0.
    """
    n_comp = y.shape[0]
    n_ep, n_lag = idx.shape
    n_stat = 7 if ci_mode > 0 else 5
    out = np.full((n_comp, n_stat, n_lag), np.nan)
    block = np.empty((_BLOCK, n_ep))
    stats = np.empty(3)
    ci = np.empty(2)
    for c in range(n_comp):
        for k0 in range(0, n_lag, _BLOCK):
            k1 = min(k0 + _BLOCK, n_lag)
            nb = k1 - k0
            # gather: epochs outer, so each epoch reads a contiguous run of samples
            for e in range(n_ep):
                for kk in range(nb):
                    j = idx[e, k0 + kk]
                    block[kk, e] = y[c, j] if j >= 0 else np.nan
            for kk in range(nb):
                k = k0 + kk
                row = block[kk]
                m = 0
                s = 0.0
                for e in range(n_ep):
                    v = row[e]
                    if v == v:
                        row[m] = v
                        m += 1
                        s += v
                out[c, 4, k] = m
                if m == 0:
                    continue
                out[c, 0, k] = s / m
                order_stats(row, m, stats)
                out[c, 1, k] = stats[1]
                out[c, 2, k] = stats[0]
                out[c, 3, k] = stats[2]
                if ci_mode > 0 and m > 2:
                    _bootstrap_ci(row, m, n_boot, ci_mode, q_low, q_high, seeds[k], ci)
                    out[c, 5, k] = ci[0]
                    out[c, 6, k] = ci[1]
    return out


@njit(cache=True, nogil=True)
def sea2d_stats(y, ybin, idx, n_bins):  # pragma: no cover - compiled
    """Per (lag, y-bin) mean, median and count of a 2-D superposed epoch analysis.

    ``y`` (n_time, n_row) float64; ``ybin`` (1 or n_time, n_row) int64 bin of each value (-1:
    outside every bin); ``idx`` (n_epochs, n_lags). Returns (3, n_lags, n_bins): mean, median, count
    (NaN statistics where the count is 0).
    """
    n_time, n_row = y.shape
    n_ep, n_lag = idx.shape
    fixed = ybin.shape[0] == 1
    idx = np.ascontiguousarray(idx.T)  # (lag, epoch): the epochs of a lag are contiguous
    out = np.full((3, n_lag, n_bins), np.nan)
    buf = np.empty(n_ep * n_row)
    counts = np.zeros(n_bins, np.int64)
    offsets = np.zeros(n_bins + 1, np.int64)
    fill = np.zeros(n_bins, np.int64)
    sums = np.zeros(n_bins)
    for k in range(n_lag):
        counts[:] = 0
        sums[:] = 0.0
        for e in range(n_ep):
            j = idx[k, e]
            if j < 0:
                continue
            jb = 0 if fixed else j
            for r in range(n_row):
                b = ybin[jb, r]
                v = y[j, r]
                if b >= 0 and v == v:
                    counts[b] += 1
                    sums[b] += v
        for b in range(n_bins):
            offsets[b + 1] = offsets[b] + counts[b]
            fill[b] = offsets[b]
        for e in range(n_ep):
            j = idx[k, e]
            if j < 0:
                continue
            jb = 0 if fixed else j
            for r in range(n_row):
                b = ybin[jb, r]
                v = y[j, r]
                if b >= 0 and v == v:
                    buf[fill[b]] = v
                    fill[b] += 1
        for b in range(n_bins):
            m = counts[b]
            out[2, k, b] = m
            if m == 0:
                continue
            out[0, k, b] = sums[b] / m
            out[1, k, b] = _median(buf[offsets[b]:offsets[b + 1]], m)
    return out


@njit(cache=True, nogil=True)
def assoc_counts(t1, t2, lags, window, max_count):  # pragma: no cover - compiled
    """Association numbers of two sorted event series (int64 ns) at every lag.

    For each lag, event i of series 1 is associated with the events of series 2 in the closed window
    ``[t1[i] + lag - window, t1[i] + lag + window]``; two pointers move forward through ``t2`` as
    ``t1`` increases. Returns ``totals`` (n_lags,) and ``hist`` (n_lags, max_count + 1): how many
    series-1 events have 0, 1, 2, ... associated events.
    """
    n1 = t1.shape[0]
    n2 = t2.shape[0]
    n_lag = lags.shape[0]
    totals = np.zeros(n_lag, np.int64)
    hist = np.zeros((n_lag, max_count + 1), np.int64)
    for k in range(n_lag):
        lo = 0
        hi = 0
        tot = 0
        for i in range(n1):
            start = t1[i] + lags[k] - window
            stop = t1[i] + lags[k] + window
            while lo < n2 and t2[lo] < start:
                lo += 1
            if hi < lo:
                hi = lo
            while hi < n2 and t2[hi] <= stop:
                hi += 1
            c = hi - lo
            if c > 0:  # most events have no partner: hist[k, 0] is filled in at the end
                tot += c
                hist[k, c] += 1
        totals[k] = tot
        hist[k, 0] = n1 - hist[k, 1:].sum()
    return totals, hist


@njit(cache=True, nogil=True)
def _binom_small(n, p):  # pragma: no cover - compiled
    """Binomial(n, p) draw by inversion (sequential search from 0), for n * min(p, 1 - p) < 30."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    flip = p > 0.5
    pp = 1.0 - p if flip else p
    f = np.exp(n * np.log1p(-pp))
    r = pp / (1.0 - pp)
    u = np.random.random()
    x = 0
    while u > f and x < n:
        u -= f
        x += 1
        f *= r * (n - x + 1) / x
    return n - x if flip else x


@njit(cache=True, nogil=True)
def _binom_table(n, p):  # pragma: no cover - compiled
    """Support start and CDF of Binomial(n, p) over mean +/- 12 sd (the rest has negligible mass)."""
    mu = n * p
    sd = np.sqrt(n * p * (1.0 - p))
    lo = max(0, int(np.floor(mu - 12.0 * sd)))
    hi = min(n, int(np.ceil(mu + 12.0 * sd)))
    cdf = np.empty(hi - lo + 1)
    base = math.lgamma(n + 1.0)
    lp, lq = np.log(p), np.log1p(-p)
    acc = 0.0
    for k in range(lo, hi + 1):
        acc += np.exp(base - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0) + k * lp + (n - k) * lq)
        cdf[k - lo] = acc
    return lo, cdf / acc


@njit(cache=True, nogil=True)
def assoc_bootstrap(hist, n1, n_boot, q_low, q_high, target, seed):  # pragma: no cover - compiled
    """Bootstrap of the per-lag association totals from the histograms of per-event numbers.

    ``hist[k, c]``: series-1 events with ``c`` associated events at lag ``k``. A resample of the n1
    per-event numbers has multinomial counts over the distinct values; they are drawn as conditional
    binomials, most frequent value first (shared n and p across resamples, so drawn from a CDF table),
    the others by inversion. Returns (ci_low, ci_high, confidence_above) per lag: numpy "linear"
    percentiles ``q_low``/``q_high`` of the resampled totals and 100 minus PoPPy's value_percentile
    of ``target``.
    """
    np.random.seed(seed)
    n_lag, n_c = hist.shape
    low = np.empty(n_lag)
    high = np.empty(n_lag)
    above = np.empty(n_lag)
    reps = np.empty(n_boot)
    for k in range(n_lag):
        # non-zero values with events, most frequent first
        cats = np.array([c for c in range(1, n_c) if hist[k, c] > 0], dtype=np.int64)
        if cats.size:
            order = np.argsort(-hist[k, cats], kind="mergesort")
            cats = cats[order]
        if cats.size == 0:
            reps[:] = 0.0
        else:
            c0 = cats[0]
            p0 = hist[k, c0] / n1
            use_table = n1 * min(p0, 1.0 - p0) >= 30.0
            lo = 0
            cdf = np.empty(1)
            if use_table:
                lo, cdf = _binom_table(n1, p0)
            for s in range(n_boot):
                if use_table:
                    d = lo + np.searchsorted(cdf, np.random.random())
                else:
                    d = _binom_small(n1, p0)
                tot = c0 * d
                rem = n1 - d
                left = n1 - hist[k, c0]
                for ci in range(1, cats.size):
                    if rem == 0:
                        break
                    c = cats[ci]
                    q = hist[k, c] / left
                    if rem * min(q, 1.0 - q) < 30.0:
                        d = _binom_small(rem, q)
                    else:
                        d = np.random.binomial(rem, q)
                    tot += c * d
                    rem -= d
                    left -= hist[k, c]
                reps[s] = tot
        reps.sort()
        low[k] = _percentile_sorted(reps, q_low)
        high[k] = _percentile_sorted(reps, q_high)
        # PoPPy's value_percentile of the target among the sorted resampled totals
        below = np.searchsorted(reps, target, side="left")
        upto = np.searchsorted(reps, target, side="right")
        if upto == 0:
            pct = 0.0
        elif below == n_boot:
            pct = 100.0
        else:
            if below == upto:
                idx = below - 1 + (target - reps[below - 1]) / (reps[below] - reps[below - 1])
            else:
                idx = (below + upto - 1) / 2.0
            pct = idx * 100.0 / (n_boot - 1)
        above[k] = 100.0 - pct
    return low, high, above
