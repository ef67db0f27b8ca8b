"""Test and demo helpers: a real local HTTP server with fault injection, and archive stand-ins.

:class:`LocalServer` serves static files (Apache-style) and mounted Python handlers on
``127.0.0.1``; the ``*_site`` modules build stand-ins of real archives on top of it.

Examples
--------
>>> import urllib.request
>>> from xspace.testing import LocalServer, Reply
>>> with LocalServer() as srv:
...     srv.mount("/ping", lambda req: Reply(200, "pong"))
...     urllib.request.urlopen(srv.url + "/ping").read()
b'pong'
"""

from xspace.testing.server import Faults, FaultRule, LocalServer, Reply, Request

__all__ = ["LocalServer", "Request", "Reply", "Faults", "FaultRule"]
