"""``xspace demo``: a tour of the library on the real data it ships, without network.

Each step is a function ``step_*(outdir) -> None`` printing what it does; :data:`STEPS` lists them in order.
Later features add their step here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def step_io(outdir: Path) -> None:
    """Open the bundled CDF files, summarise them, convert to netCDF and read them back."""
    import numpy as np

    import xspace
    from xspace.cli import describe
    from xspace.data import get_path

    print("## 1. CDF files (ISTP decoding, lazy)\n")
    for name in (
        "ac_k2_mfi_20220101_v03.cdf",
        "rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf",
        "psp_fld_l2_mag_rtn_1min_20200104_v02.cdf",
    ):
        ds = xspace.open_cdf(get_path(name))
        print(describe(ds, title=f"== {name}"))
        nc = outdir / (Path(name).stem + ".nc")
        ds.space.to_netcdf(nc)
        back = xspace.open_netcdf(nc)
        same = all(
            np.array_equal(ds[v].values, back[v].values, equal_nan=ds[v].dtype.kind in "fc")
            for v in ds.variables
            if ds[v].dtype.kind in "fcMiu"
        )
        print(f"-> netCDF {nc.name}: {nc.stat().st_size} bytes, read back identical: {same}")
        cdf = outdir / (Path(name).stem + "_copy.cdf")
        ds.space.to_cdf(cdf, overwrite=True)
        again = xspace.open_cdf(cdf)
        same_cdf = all(
            np.array_equal(ds[v].values, again[v].values, equal_nan=ds[v].dtype.kind in "fcM")
            and ds[v].attrs.keys() == again[v].attrs.keys()
            for v in ds.variables
        )
        print(f"-> CDF {cdf.name}: {cdf.stat().st_size} bytes, values and attributes identical: {same_cdf}\n")
    lazy = xspace.open_cdf(get_path("rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf"), create_default_indexes=False)
    flux = lazy["FPDU"].isel(Epoch_Ion=slice(40, 42))  # reads only these two records
    print(f"lazy read of 2 HOPE records: FPDU{tuple(flux.shape)}, median {float(np.nanmedian(flux)):.3g} "
          f"{lazy['FPDU'].attrs['UNITS']}\n")


STEPS = [step_io]


# ----------------------------------------------------------------- sea / assoc (issue 3)
def step_sea(outdir: Path) -> None:
    """Superposed epoch analysis around solar-wind stream interfaces and association of Kp >= 5 onsets
    with Dst minima, on the bundled hourly Qin-Denton data (1999-2001); writes two figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    import xspace
    import xspace.plot
    from xspace.analysis.assoc import association
    from xspace.analysis.sea import find_events
    from xspace.data import get_path

    print("## Superposed epoch and association analysis (Qin-Denton hourly, 1999-2001)\n")
    qd = xspace.open_netcdf(get_path("qindenton_hourly_1999-2001.h5"))[["velo", "Kp", "Dst"]].load()
    qd["velo"].attrs.update(UNITS="km/s", LABLAXIS="V_sw")
    qd["Dst"].attrs.update(UNITS="nT", LABLAXIS="Dst")
    qd["Kp"].attrs.update(LABLAXIS="Kp")
    # stream interfaces: 12-h mean speed after minus before >= 100 km/s, largest first, >= 96 h apart
    v = qd["velo"].astype(float)
    twelve = v.rolling(UTC=12).sum()
    jump = (twelve.shift(UTC=-11) - twelve.shift(UTC=1)) / 12
    epochs = find_events(v, jump >= 100, "96h", rank=jump, at="all")
    res = qd.space.sea(epochs, "3D", "1h", ci=0.95, seed=0)
    print(f"{epochs.size} stream interfaces found, {res.attrs['n_epochs']} with a full +/-3 day window")
    print("median [95% CI of the median] at lag:")
    print(f"{'lag [h]':>8} {'V_sw [km/s]':>22} {'Kp':>16} {'Dst [nT]':>22}")
    for h in (-48, -24, -12, 0, 12, 24, 48):
        r = res.sel(lag=np.timedelta64(h, "h"))
        cells = [
            f"{float(r[n].sel(statistic='median')):.1f} [{float(r[n].sel(statistic='ci_low')):.1f}, "
            f"{float(r[n].sel(statistic='ci_high')):.1f}]"
            for n in ("velo", "Kp", "Dst")
        ]
        print(f"{h:>8} {cells[0]:>22} {cells[1]:>16} {cells[2]:>22}")
    axes = xspace.plot.sea(res)
    axes[0].figure.savefig(outdir / "sea_stream_interfaces.png", dpi=100)
    plt.close(axes[0].figure)

    onsets = find_events(qd["Kp"], qd["Kp"] >= 5)
    minima = find_events(qd["Dst"], qd["Dst"] < -50, at="min")
    lags = np.arange(-72, 73) * np.timedelta64(1, "h")
    assoc = association(onsets, minima, lags, "2h", n_boot=1000, seed=0)
    peak = int(np.argmax(assoc["n_assoc"].values))
    print(
        f"\n{onsets.size} Kp >= 5 onsets vs {minima.size} Dst minima (< -50 nT), window +/-2 h: association "
        f"peaks at lag {int(assoc.lag[peak] / np.timedelta64(1, 'h')):+d} h with {int(assoc.n_assoc[peak])} "
        f"(95% CI [{float(assoc.ci_low[peak]):.0f}, {float(assoc.ci_high[peak]):.0f}]); asymptote "
        f"{assoc.attrs['asymptotic_association']:.1f}; confidence above asymptote "
        f"{float(assoc.confidence_above_asymptote[peak]):.0f} %"
    )
    ax = xspace.plot.association(assoc, lag_unit="h", title="Kp >= 5 onsets vs Dst minima")
    ax.figure.savefig(outdir / "association_kp_dst.png", dpi=100)
    plt.close(ax.figure)
    print(f"-> figures sea_stream_interfaces.png, association_kp_dst.png in {outdir}\n")


STEPS.append(step_sea)


# ----------------------------------------------------------------- signal toolkit (issue 4)
def step_signal(outdir: Path) -> None:
    """Time-series toolkit on the bundled PSP and ACE magnetometer data: gaps, MFA fluctuations,
    bin averages, minimum variance and a spectrogram."""
    import numpy as np

    import xspace
    from xspace.data import get_path

    print("## Time-series toolkit (PSP FIELDS RTN 1-min, ACE MFI hourly)\n")
    psp = xspace.open_cdf(get_path("psp_fld_l2_mag_rtn_1min_20200104_v02.cdf"))
    B = psp["psp_fld_l2_mag_RTN_1min"].astype("float64").load()
    gaps = B.space.gaps()
    print(f"PSP B: {B.sizes[B.dims[0]]} samples, {len(gaps)} gaps: " +
          ", ".join(f"{str(a)[11:16]}-{str(b)[11:16]}" for a, b in gaps))
    B0 = B.space.running_mean("15min")
    dB = (B - B0).space.to_field_aligned(background=B0)
    rms = np.sqrt((dB ** 2).mean(dB.dims[0]))
    print("rms fluctuation about a 15-min background in MFA [nT]: " +
          ", ".join(f"{c}={float(v):.2f}" for c, v in zip(dB[dB.dims[1]].values, rms.values)))
    ace = xspace.open_cdf(get_path("ac_k2_mfi_20220101_v03.cdf"))
    Bace = ace["BGSEc"].astype("float64").load()
    six = Bace.space.bin_mean("6h")
    print("ACE B_GSE 6-hour means [nT]: " + "; ".join(
        f"{str(t)[11:16]} ({', '.join(f'{x:.2f}' for x in row)})" for t, row in zip(six.Epoch.values, six.values)))
    res = Bace.space.mva()
    ev = res.eigenvalues.values
    n = res.eigenvectors.sel(mva="min").values
    print(f"ACE MVA over the day: eigenvalues {ev.round(2)} nT^2 (ratio int/min {ev[1] / ev[2]:.1f}), "
          f"minimum-variance direction (GSE) {n.round(3)}")
    spec = B.isel({B.dims[1]: 0}).space.dynamic_spectrum(nfft=16, step=8, average_bins=1)
    print(f"PSP B_R spectrogram: {spec.sizes[spec.dims[0]]} times (gap columns NaN) x "
          f"{spec.sizes['frequency']} frequencies, {spec.attrs['UNITS']}\n")


STEPS.append(step_signal)


def step_magnetosphere(outdir: Path) -> None:
    """L* along the real Van Allen Probes A orbit (T89, solver and neural-network surrogate)."""
    import time as _time

    import numpy as np

    import xspace
    from xspace.data import get_path

    print("## Coordinates, T89 and L* (Van Allen Probes A, 2012-12-01, HOPE L3 positions)\n")
    ds = xspace.open_cdf(get_path("rbspa_rel04_ect-hope-PA-L3_20121201_v0.0.0.cdf"))
    orbit = ds[["Position_Ion"]].isel(Epoch_Ion=slice(0, 100, 20))
    kp = 2.0  # an assumed quiet Kp (no index for this day ships with xspace)
    t0 = _time.perf_counter()
    # the file says GEO in its labels (Xgeo, Ygeo, Zgeo), not in an attribute: name the frame
    res = orbit.space.lstar(position="Position_Ion", kp=kp, frame="GEO", pitch_angle=[90.0, 45.0])
    solver_s = _time.perf_counter() - t0
    fast = orbit.space.lstar(position="Position_Ion", kp=kp, frame="GEO", pitch_angle=[90.0, 45.0], method="surrogate")
    gsm = xspace.magnetosphere.transform(orbit["Position_Ion"].values / 6371.2, orbit["Epoch_Ion"].values,
                                         "GEO", "GSM")
    print(f"T89 (Kp {kp}, assumed) — solver {solver_s:.1f} s for {orbit.sizes['Epoch_Ion']} points x 2 pitch angles "
          "(includes the one-time compilation)")
    print(" time                 r [R_E]  MLT [h]    Lm    L*(90)  L*(45)  surrogate L*(90)")
    for i, t in enumerate(orbit["Epoch_Ion"].values):
        r = float(np.linalg.norm(gsm[i]))
        print(f" {str(t)[:19]}  {r:7.3f}  {float(res.MLT[i]):7.2f}  {float(res.Lm[i, 0]):5.3f}  "
              f"{float(res.Lstar[i, 0]):6.3f}  {float(res.Lstar[i, 1]):6.3f}  {float(fast.Lstar[i, 0]):10.3f}")
    print()


STEPS.append(step_magnetosphere)


def step_fetch(outdir: Path) -> None:
    """Fetch from a local CDAWeb look-alike serving the bundled real files over HTTP, then from the cache."""
    import time as _time

    import numpy as np

    import xspace
    from xspace.testing.cdaweb_site import serve_cdaweb

    print("## Fetching: a local CDAWeb archive over HTTP, then the cache\n")
    cache = outdir / "cache"
    with serve_cdaweb(root=outdir / "archive", days=3, real_files=True) as site, \
            xspace.set_options(cdaweb_url=site.url, cache_dir=cache, progress=False):
        print(f"archive served at {site.url} (real ACE, PSP and RBSP files at their CDAWeb paths, "
              "3 days of generated 1-minute files, the CDAS REST services and all.xml)")
        t0 = _time.perf_counter()
        b = xspace.get_data("cdaweb/AC_K2_MFI/BGSEc", "2022-01-01", "2022-01-02")
        cold = _time.perf_counter() - t0
        print(f"cdaweb/AC_K2_MFI/BGSEc: {b.sizes} lazy={type(b.data).__module__.startswith('dask')} "
              f"[{b.attrs.get('UNITS')}] in {cold * 1000:.0f} ms (cold)")
        print("  first hour:", [round(float(x), 3) for x in b.isel({b.dims[0]: 0}).values])
        n = site.count("")
        t0 = _time.perf_counter()
        b2 = xspace.get_data("cdaweb/AC_K2_MFI/BGSEc", "2022-01-01", "2022-01-02").load()
        warm = _time.perf_counter() - t0
        assert np.array_equal(b.values, b2.values, equal_nan=True)
        print(f"  second call from the cache: {warm * 1000:.1f} ms, {site.count('') - n} requests to the server")
        lazy = xspace.get_data("cdaweb/XS_TEST_1MIN", "2020-01-01T12:00", "2020-01-03T12:00")
        ramp = lazy["ramp"]
        print(f"cdaweb/XS_TEST_1MIN over 2 days spanning 3 daily files: {ramp.sizes}, "
              f"{len(ramp.data.chunks[0])} dask chunks (one per file); files downloaded so far: "
              f"{sum(1 for r in site.requests('/pub/data/xspace') if 'Range' not in r.headers)}")
        total = float(ramp.sum())
        print(f"  sum of ramp = {total:.0f} after compute; files downloaded: "
              f"{sum(1 for r in site.requests('/pub/data/xspace') if 'Range' not in r.headers)}")
        root = xspace.inventory.cdaweb
        missions = [n for n in dir(root) if not n.startswith("_") and not callable(getattr(type(root), n, None))]
        print("inventory (tab completion): xspace.inventory.cdaweb.<Tab> ->", ", ".join(missions[:6]), "...")
        print(f"cache: {xspace.fetch.cache.info()['files']} files in {cache}\n")


STEPS.append(step_fetch)


def run(outdir: str | None = None) -> int:
    """Run every demo step; files go to ``outdir`` (default: a new temporary folder)."""
    out = Path(outdir) if outdir else Path(tempfile.mkdtemp(prefix="xspace-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    for step in STEPS:
        step(out)
    print(f"demo outputs in {out}")
    return 0
