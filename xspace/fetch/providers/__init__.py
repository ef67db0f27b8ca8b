"""Data providers of :func:`xspace.get_data`, one module per archive.

Each module exposes ``NAME`` (the first component of product paths), ``get(parts, start, stop, *,
load=False, **options)`` and ``inventory()``; :mod:`xspace.fetch` imports them on first use.
"""
