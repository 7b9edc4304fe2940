"""The tests' in-process client answers as Starlette's TestClient does, in one trip a request."""

from __future__ import annotations

import anyio.from_thread
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from fastapi.testclient import TestClient as StarletteTestClient

from tests.asgi import TestClient


class Boom(Exception):
    pass


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo/{name}")
    async def echo(name: str, request: Request) -> Response:
        body = await request.body()
        return JSONResponse(
            {
                "name": name,
                "path": request.url.path,
                "query": request.url.query,
                "body": body.decode(),
                "host": request.headers.get("host"),
                "client": list(request.client or ()),
                "cookie": request.cookies.get("seen"),
            },
            headers={"X-Echo": "1"},
        )

    @app.get("/cookie")
    def cookie() -> Response:
        response = JSONResponse({"set": True})
        response.set_cookie("seen", "yes")
        return response

    @app.get("/moved")
    def moved() -> Response:
        return RedirectResponse("/cookie")

    @app.get("/pieces")
    def pieces() -> Response:
        return StreamingResponse(iter([b"one,", b"two,", b"three"]), media_type="text/csv")

    @app.get("/boom")
    def boom() -> Response:
        raise Boom("the app failed")

    return app


def _asked(client) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    answers = []
    for method, url, kwargs in (
        ("POST", "/echo/caf%C3%A9?x=1&y=%20", {"content": b"payload"}),
        ("GET", "/cookie", {}),
        ("POST", "/echo/again", {"content": b""}),  # the cookie goes back
        ("GET", "/moved", {}),
        ("GET", "/pieces", {}),
        ("HEAD", "/pieces", {}),
        ("GET", "/nowhere", {}),
    ):
        response = client.request(method, url, **kwargs)
        answers.append((response.status_code, response.headers.multi_items(), response.content))
    return answers


def test_answers_are_those_of_starlettes_client() -> None:
    app = _app()
    with TestClient(app) as ours, StarletteTestClient(app) as theirs:
        assert _asked(ours) == _asked(theirs)
        assert ours.post("/echo/x", content=b"a").json()["client"] == ["testclient", 50000]


def test_each_request_crosses_to_the_app_once(monkeypatch) -> None:
    app = _app()
    crossings: list[str] = []
    real = anyio.from_thread.BlockingPortal.call

    def counted(self, func, *args):
        crossings.append(getattr(func, "__qualname__", repr(func)))
        return real(self, func, *args)

    monkeypatch.setattr(anyio.from_thread.BlockingPortal, "call", counted)
    with TestClient(app) as ours, StarletteTestClient(app) as theirs:
        crossings.clear()
        assert ours.get("/cookie").status_code == 200
        assert len(crossings) == 1, crossings
        crossings.clear()
        assert theirs.get("/cookie").status_code == 200
        assert len(crossings) > 3, crossings  # what this client saves


def test_an_exception_in_the_app_is_raised_or_answered_500_as_asked() -> None:
    app = _app()
    with TestClient(app) as raising, pytest.raises(Boom, match="the app failed"):
        raising.get("/boom")
    with TestClient(app, raise_server_exceptions=False) as answering:
        response = answering.get("/boom")
    with StarletteTestClient(app, raise_server_exceptions=False) as theirs:
        expected = theirs.get("/boom")
    assert response.status_code == expected.status_code == 500
    assert response.content == expected.content
