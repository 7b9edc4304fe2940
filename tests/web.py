"""HTTP from the tests to the servers they start: httpx's calls with the process's one TLS context.

`httpx.get` and every new `httpx.Client` build a TLS context first, even for an http:// URL
(the whole CA bundle read and parsed, about 20 ms of CPU). The tests poll servers they start
every tenth of a second and open clients by the hundred: that was a fifth of the test
workers' CPU. These take the product's shared context (common.tls) instead; each call still
opens its own connection, as httpx.get does.
"""

from __future__ import annotations

from typing import Any

import httpx

from common.tls import client_context


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, verify=client_context(), **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, verify=client_context(), **kwargs)


def Client(**kwargs: Any) -> httpx.Client:  # noqa: N802 - stands in for httpx.Client
    return httpx.Client(verify=client_context(), **kwargs)
