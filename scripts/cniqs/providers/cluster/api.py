"""The Kubernetes API client of one cluster, and its API groups loaded ahead of their first use."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes import config as k8s_config


def connect(kubeconfig: str) -> tuple[k8s.ApiClient, Any, Any, Any]:
    """The client of the cluster kubeconfig names, and its core, discovery and apps APIs. Any: the API takes
    plain dict bodies at run time, which its annotations do not admit."""
    client = k8s_config.new_client_from_config(config_file=kubeconfig)
    return (
        client,
        cast(Any, k8s.CoreV1Api(client)),
        cast(Any, k8s.DiscoveryV1Api(client)),
        cast(Any, k8s.AppsV1Api(client)),
    )


def load_soon() -> None:
    """Load the API groups connect() uses, in a thread of their own. The kubernetes client loads a group's
    module at its first use: 1.25 s for the core group and 0.3 s for the other two here (more on a busy
    machine), so a provider starts this before it waits for its cluster rather than after. A failure is the
    first use's to report."""

    def load() -> None:
        with contextlib.suppress(Exception):
            k8s.CoreV1Api, k8s.DiscoveryV1Api, k8s.AppsV1Api  # noqa: B018 (looking them up loads them)

    threading.Thread(target=load, name="k8s-api-load", daemon=True).start()
