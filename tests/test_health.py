"""``GET /healthz``: what monitoring sees, and nothing an attacker could use."""

import shutil
from collections import namedtuple

from queue_app import create_app
from queue_app.web import health

Usage = namedtuple("Usage", "total used free")


def test_a_healthy_server_answers_200_without_details(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok"}
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_nearly_full_disk_is_named_as_the_database(client, monkeypatch):
    monkeypatch.setattr(
        health.shutil, "disk_usage", lambda folder: Usage(10**9, 10**9 - 1024, 1024)
    )
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json == {"status": "degraded", "degraded": ["database"]}


def test_a_message_queue_the_process_is_not_subscribed_to_is_named(app, tmp_path):
    path = tmp_path / "copy.db"
    shutil.copy(app.config["DATABASE"], path)
    # Until its relay has subscribed (here: never, nothing listens there) it is degraded.
    with_queue = create_app(
        {
            "TESTING": True,
            "DATABASE": str(path),
            "ASYNC_MODE": "threading",
            "SECRET_KEY": "x",
            "MESSAGE_QUEUE": "redis://127.0.0.1:9/0",
        }
    )
    answer = with_queue.test_client().get("/healthz")
    assert answer.status_code == 503
    assert answer.json == {"status": "degraded", "degraded": ["message_queue"]}
    assert "redis" not in answer.get_data(as_text=True)
