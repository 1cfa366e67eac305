"""Gunicorn settings shared by `make run` and `make bench` (so the bench measures what runs).

Two sync workers: on the 2-core machines this runs on, four served no more requests than two
and had several times the p99 latency (bench/RESULTS.md, "Worker count"). Override with
WEB_CONCURRENCY.
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
keepalive = 5
timeout = 30
accesslog = os.environ.get("EVENTDESK_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("EVENTDESK_LOG_LEVEL", "info")
preload_app = True
logger_class = "server.access_log.RedactingLogger"  # secret feed URLs never reach the access log
# gunicorn >= 24 opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl), shared
# by every instance on the host: whoever runs as that user could reload or stop this server. Off.
control_socket_disable = True

# --- Prometheus metrics across workers (server/metrics.py) --------------------------------
# Each worker counts into its own file in PROMETHEUS_MULTIPROC_DIR and a scrape adds them up.
# prometheus_client reads the setting when it is first imported, so it is set here, before the
# app is loaded. Without one, a fresh private directory per server, removed when it stops;
# a given one must belong to this server alone: it is emptied at start, as counts from an
# earlier run would be added to this one's.
# The directory this config made, remembered in the environment with the master's pid: a reload
# (SIGHUP) reads this file again and must still remove it at the end, but a server started from
# this one (inheriting the environment) must not.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="eventdesk-metrics-")
    os.environ["EVENTDESK_METRICS_DIR_MADE"] = f"{os.getpid()}:{os.environ['PROMETHEUS_MULTIPROC_DIR']}"
else:
    import glob

    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], mode=0o700, exist_ok=True)
    for _stale in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(_stale)


def child_exit(server, worker) -> None:
    """A worker has gone: its live gauges go with it (its counts stay in the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if os.environ.get("EVENTDESK_METRICS_DIR_MADE") == f"{os.getpid()}:{directory}":
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
