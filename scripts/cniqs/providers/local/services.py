"""The external side's servers: a real DNS server (dnsmasq) and a real web server (busybox httpd)."""

from __future__ import annotations

import subprocess

from cniqs.common.run import in_netns
from cniqs.providers.local import render
from cniqs.providers.local.layout import Layout


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
    (layout.www / "index.html").write_text(render.index_page(layout.run_id))
    dns = _spawn(
        layout,
        render.dnsmasq_argv(str(layout.logs / "dnsmasq-queries.log"), str(layout.root / "ext" / "dnsmasq.pid")),
        "dnsmasq.log",
    )
    web = _spawn(layout, ["busybox", "httpd", "-f", "-p", f"{render.EXT_HOST}:80", "-h", str(layout.www)], "httpd.log")
    return [dns, web]


def probe_argv(layout: Layout) -> list[list[str]]:
    """Commands, run in the node netns, that succeed once both servers answer."""
    return [
        in_netns(layout.node_netns, ["busybox", "nslookup", render.EXT_NAME, str(render.EXT_DNS)]),
        in_netns(layout.node_netns, ["busybox", "wget", "-q", "-O", "/dev/null", f"http://{render.EXT_HOST}/"]),
    ]
