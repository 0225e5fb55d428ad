"""The baseline: a Flask endpoint that reads the body and answers 200, nothing else.
Served by the same gunicorn settings as ``threadline web``."""

from __future__ import annotations

from flask import Flask, Response, request

app = Flask("noop")


@app.post("/webhooks/<name>")
def receive(name: str) -> Response:
    request.get_data(cache=False)
    return Response('{"accepted": 1, "duplicates": 0}', mimetype="application/json")


@app.get("/healthz")
def healthz() -> Response:
    return Response('{"status":"ok"}', mimetype="application/json")
