"""A serving process sizes torch's CPU thread pools from PRIOR_CPU_THREADS at boot, before torch loads, so every
thread of it (gunicorn's request threads too) runs the prior on that many threads (serving/apps.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Boot Django as a serving process does, then load torch and ask a fresh thread how many threads it would use.
PROBE = """
import json, os, threading
import django
django.setup()
import torch
seen = {}
thread = threading.Thread(target=lambda: seen.update(threads=torch.get_num_threads()))
thread.start(); thread.join()
print(json.dumps({"omp": os.environ.get("OMP_NUM_THREADS"), "mkl": os.environ.get("MKL_NUM_THREADS"), **seen}))
"""


def boot(**variables: str) -> dict:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "SECRET_KEY": "test", **variables}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_thread_uses_prior_cpu_threads():
    assert boot() == {"omp": "1", "mkl": "1", "threads": 1}  # the default, PRIOR_CPU_THREADS=1
    assert boot(PRIOR_CPU_THREADS="2") == {"omp": "2", "mkl": "2", "threads": 2}


def test_the_operators_own_value_wins_and_zero_leaves_torch_alone():
    assert boot(OMP_NUM_THREADS="2")["omp"] == "2"
    untouched = boot(PRIOR_CPU_THREADS="0")
    assert (untouched["omp"], untouched["mkl"]) == (None, None)
