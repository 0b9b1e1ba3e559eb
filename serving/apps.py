import os
import sys

from django.apps import AppConfig

# The variables the CPU thread pools of torch read once, when torch first loads (OpenMP, MKL).
THREAD_POOL_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


class ServingConfig(AppConfig):
    name = "serving"

    def ready(self) -> None:
        from serving import conf

        conf.check_environment()  # a malformed PRIOR_* variable stops the boot, naming itself
        limit_thread_pools(conf.get("PRIOR_CPU_THREADS"))


def limit_thread_pools(threads: int) -> bool:
    """Size torch's CPU thread pools to ``PRIOR_CPU_THREADS`` before torch loads, for every thread of the process.

    Why here, at boot: ``torch.set_num_threads`` after loading (``serving.runtime``) did not reach the request
    threads of a gunicorn worker: at one client, 104-117 ms of server CPU per ``from-image`` against 31 ms with
    ``OMP_NUM_THREADS=1`` in the environment, both cores busy while one request at a time ran (a second OpenMP
    thread spin-waiting after every parallel region; docs/performance.md). The variables only work if set before
    torch's first import, which in a serving process comes after Django's set-up. A value the operator set wins;
    ``PRIOR_CPU_THREADS=0`` leaves torch its own choice. Returns whether the variables were set.
    """
    if threads <= 0 or "torch" in sys.modules:
        return False
    for name in THREAD_POOL_VARIABLES:
        os.environ.setdefault(name, str(threads))
    return True
