"""Truncated and corrupted CDF files: every outcome is a clean XspaceError or a decode (never a crash or hang)."""

from __future__ import annotations

import random
import signal
import warnings

import numpy as np
import pytest

import xspace
from xspace.errors import XspaceError

from conftest import CDF_DIR

CDF_FILES = sorted(p.name for p in CDF_DIR.glob("*.cdf"))


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


@pytest.mark.parametrize("name", CDF_FILES)
def test_truncated_and_bit_flipped_files(name, tmp_path):
    data = (CDF_DIR / name).read_bytes()
    rng = random.Random(f"xspace-fuzz-{name}")  # seeded: reproducible
    cases = [("truncated at %d" % n, data[:n]) for n in sorted(rng.sample(range(len(data)), 25))]
    cases += [("truncated at 0", b""), ("truncated at 7", data[:7])]
    for _ in range(40):
        b = bytearray(data)
        pos = rng.randrange(len(b))
        b[pos] ^= 1 << rng.randrange(8)
        cases.append((f"bit flipped at byte {pos}", bytes(b)))
    for _ in range(10):  # whole garbage words in the structure area
        b = bytearray(data)
        pos = rng.randrange(min(len(b) - 8, 4096))
        b[pos : pos + 8] = rng.randbytes(8)
        cases.append((f"8 random bytes at {pos}", bytes(b)))
    old = signal.signal(signal.SIGALRM, _alarm)
    outcomes = {"error": 0, "decoded": 0}
    try:
        for i, (what, content) in enumerate(cases):
            path = tmp_path / f"case{i}.cdf"
            path.write_bytes(content)
            signal.alarm(20)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ds = xspace.open_cdf(path, create_default_indexes=False, include_ignore_data=True)
                    for var in ds.variables.values():
                        np.asarray(var.values)
                outcomes["decoded"] += 1
            except XspaceError as exc:
                assert str(path) in str(exc), f"{what}: message does not name the file: {exc}"
                outcomes["error"] += 1
            except _Timeout:
                pytest.fail(f"{name}, {what}: hang (> 20 s)")
            except Exception as exc:  # noqa: BLE001 - the point of the test
                pytest.fail(f"{name}, {what}: {type(exc).__name__} instead of an XspaceError: {exc}")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, old)
    assert outcomes["error"] >= 25  # every truncation inside the structure must be detected
