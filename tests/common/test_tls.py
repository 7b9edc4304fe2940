"""HTTP clients share one verifying TLS context per process (common.tls)."""

from __future__ import annotations

import ssl

import httpx

from common.tls import client_context
from pos_client.api.client import ApiClient


def test_the_shared_context_verifies_certificates_and_host_names():
    context = client_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    # The CA bundle is loaded: an empty context would trust nothing and refuse every server.
    assert context.cert_store_stats()["x509_ca"] > 0
    assert client_context() is context


def test_a_new_api_client_takes_the_shared_context_instead_of_building_one():
    first, second = ApiClient("https://shop.example"), ApiClient("https://shop.example")
    try:
        for client in (first, second):
            transport = client._http._transport
            assert isinstance(transport, httpx.HTTPTransport)
            assert transport._pool._ssl_context is client_context()
    finally:
        first.close()
        second.close()
