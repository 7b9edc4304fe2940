"""One TLS context for every HTTP client a StockPilot process opens."""

from __future__ import annotations

import functools
import ssl


@functools.cache
def client_context() -> ssl.SSLContext:
    """Return the process's verifying TLS context for HTTP clients, built on first use.

    It is httpx's own default (certifi's certificate authorities, or SSL_CERT_FILE /
    SSL_CERT_DIR when set), which httpx otherwise builds again for every Client and every
    `httpx.get`: reading and parsing the whole CA bundle, about 20 ms of CPU each time (a
    till opened one per enrolment and per sync client, the server one per webhook). A
    context is meant to be shared by many connections and threads once it is configured.
    """
    # Imported here, not at the top: the server imports this module at start and opens a
    # client only to deliver a webhook; httpx costs ~50 ms of CPU to import.
    import httpx

    return httpx.create_ssl_context()
