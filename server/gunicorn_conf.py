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
