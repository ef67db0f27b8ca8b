"""Exception types raised by xspace.

Every error xspace raises on purpose is a subclass of :class:`XspaceError` and also of the closest
builtin exception, so ``except ValueError`` keeps working for callers who do not know xspace.
Messages name the file, variable or argument at fault and say what was expected.

Examples
--------
>>> from xspace.errors import CDFFormatError, XspaceError
>>> issubclass(CDFFormatError, ValueError) and issubclass(CDFFormatError, XspaceError)
True
"""

from __future__ import annotations


class XspaceError(Exception):
    """Base class of every error raised by xspace."""


class InputError(XspaceError, ValueError):
    """A function argument has the wrong type, shape, units or value."""


class CDFFormatError(XspaceError, ValueError):
    """A file is not a CDF file, or its internal structure is truncated or corrupted."""


class ISTPError(XspaceError, ValueError):
    """A dataset violates the ISTP conventions in a way that prevents the requested operation."""


class TimeConversionError(XspaceError, ValueError):
    """A time value cannot be converted (unknown time type, out of the representable range)."""


class FileFormatError(XspaceError, ValueError):
    """A non-CDF file (JSON-headed ASCII, netCDF, HAPI stream ...) is malformed."""


class AnalysisError(XspaceError, ValueError):
    """An analysis cannot be carried out on the given data (e.g. no epoch has a full window)."""


class FieldModelError(XspaceError, ValueError):
    """A magnetic field model was asked for outside its domain (unknown model, Kp out of range ...)."""


class FetchError(XspaceError, IOError):
    """Data could not be fetched from an archive or server."""


class ProductNotFound(FetchError, KeyError):
    """The requested product is not in the inventory."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class OfflineError(FetchError):
    """Offline mode is on (or the network is unreachable) and the data is not cached."""


class CacheError(XspaceError, OSError):
    """The local cache is corrupted or cannot be written."""


__all__ = [
    "XspaceError",
    "InputError",
    "CDFFormatError",
    "ISTPError",
    "TimeConversionError",
    "FileFormatError",
    "AnalysisError",
    "FieldModelError",
    "FetchError",
    "ProductNotFound",
    "OfflineError",
    "CacheError",
]
