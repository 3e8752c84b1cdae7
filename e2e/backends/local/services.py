"""The external side's servers: a real DNS server (dnsmasq) and a real web server (busybox httpd)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from e2e.backends.local import render as r
from e2e.backends.local.layout import Layout
from e2e.backends.local.sh import in_netns


def _spawn(layout: Layout, argv: list[str], log_name: str) -> subprocess.Popen[bytes]:
    with open(layout.logs / log_name, "ab") as log:
        return subprocess.Popen(
            in_netns(layout.ext_netns, argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start(layout: Layout) -> list[subprocess.Popen[bytes]]:
    (layout.www / "index.html").write_text(r.index_page(layout.run_id))
    dns = _spawn(
        layout,
        r.dnsmasq_argv(str(layout.logs / "dnsmasq-queries.log"), str(layout.root / "ext" / "dnsmasq.pid")),
        "dnsmasq.log",
    )
    web = _spawn(layout, ["busybox", "httpd", "-f", "-p", f"{r.EXT_HOST}:80", "-h", str(layout.www)], "httpd.log")
    return [dns, web]


def probe_argv(layout: Layout) -> list[list[str]]:
    """Commands, run in the node netns, that succeed once both servers answer."""
    return [
        in_netns(layout.node_netns, ["busybox", "nslookup", r.EXT_NAME, str(r.EXT_DNS)]),
        in_netns(layout.node_netns, ["busybox", "wget", "-q", "-O", "/dev/null", f"http://{r.EXT_HOST}/"]),
    ]


def log_files(layout: Layout) -> list[Path]:
    return [layout.logs / "dnsmasq.log", layout.logs / "httpd.log"]
