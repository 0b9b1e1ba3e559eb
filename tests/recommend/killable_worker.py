"""``python -m tests.recommend.killable_worker [celery worker options]``: the project's real Celery app and worker,
with one test hook: the first task to start, across every worker sharing the file ``$KILL_MARK``, writes its
process id there and waits, so that a test can SIGKILL that process while it is mid-task. Later tasks run as usual.
"""

from __future__ import annotations

import os
import sys
import time

from celery import signals

from worker.celery import app


@signals.task_prerun.connect
def hold_the_first_task(**_: object) -> None:
    try:
        fd = os.open(os.environ["KILL_MARK"], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    time.sleep(120)  # killed long before this ends


if __name__ == "__main__":
    app.worker_main(["worker", *sys.argv[1:]])
