"""A Celery worker killed while it samples loses no request: a real broker (valkey-server), two real worker
processes, SIGKILL the one running the sampling task, and the web request still gets its playlist, stored once.

Two ways a worker dies: a prefork child killed under its parent (an OOM kill of the child): the parent sees the
child lost and, with ``task_reject_on_worker_lost``, puts the unacknowledged task (``task_acks_late``) back on the
queue at once; and a whole worker process killed (the threads pool that docker-compose runs, a lost node): nobody
is left to reject it, and the broker hands it to the other worker after the visibility timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

from recommend.models import Playlist, PlaylistItem, Session
from tests.conftest import celery_worker_command, running_valkey, start_watched_process, worker_env
from tests.helpers.api import upload
from tests.helpers.waiting import wait_until
from tests.worker.conftest import celery_broker


def _ready(lines: list[str]) -> bool:
    """Ready to run a task at once: connected, and its prior loaded (a prefork child loads it after the parent says
    "ready"; a task reserved meanwhile would sit unacknowledged past the 2 s visibility timeout below)."""
    return any(" ready." in seen for seen in lines) and any("warm-up: prior" in seen for seen in lines)


def _start_worker(name: str, pool: str, env: dict) -> tuple[subprocess.Popen, list[str], threading.Event]:
    command = celery_worker_command("-Q", "prior", "--pool", pool, "--concurrency", "1", "--hostname", f"{name}@%h",
                                    entry=("tests.recommend.killable_worker",))
    return start_watched_process(command, env, _ready)


@pytest.mark.slow
@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_a_worker_killed_mid_task_loses_no_request(pool, api, catalog, settings, tmp_path):
    mark = tmp_path / "held-by"
    with running_valkey() as port:
        broker = f"redis://127.0.0.1:{port}/0"
        env = worker_env(
            broker,
            CELERY_VISIBILITY_TIMEOUT="2",  # a whole process lost: its task is handed on after 2 s
            IMAGE_ENCODER="palette",
            KILL_MARK=str(mark),
        )
        workers = [_start_worker(f"w{i}", pool, env) for i in range(2)]
        killed: list[int] = []

        def kill_the_holder() -> None:
            wait_until(lambda: mark.exists() and mark.read_text(), 60, 0.05)  # the test asserts a kill happened
            if mark.exists():
                pid = int(mark.read_text())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        try:
            for _, lines, ready in workers:
                assert ready.wait(120), "".join(lines[-40:])
            killer = threading.Thread(target=kill_the_holder)
            killer.start()
            with celery_broker(settings, broker, time_limit=30):
                started = time.monotonic()
                response = upload(api, {"size": 10})
                elapsed = time.monotonic() - started
            killer.join(60)
        finally:
            for process, _, _ in workers:
                if process.poll() is None:
                    process.terminate()
            for process, _, _ in workers:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)

    output = "".join(line for _, lines, _ in workers for line in lines)
    assert killed, "no worker started the sampling task"
    assert response.status_code == 201, (response.json(), output[-4000:])
    assert elapsed < 25, f"the request took {elapsed:.1f} s: redelivery is too slow for the web side's wait"
    assert output.count("succeeded in") == 1, output[-4000:]  # ran to the end once: after the kill
    assert output.count("Task worker.sample_seeds[") >= 2  # received by the killed one, then again
    session_id = response.json()["session"]["id"]
    assert Session.objects.count() == 1
    playlists = Playlist.objects.filter(session_id=session_id)
    assert [p.version for p in playlists] == [1]  # exactly one version stored
    assert PlaylistItem.objects.filter(playlist__session_id=session_id).count() == 10
