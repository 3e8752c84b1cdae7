"""Diagnostics into an artifacts folder, collected before teardown when anything failed.

Every step is best effort: a step that fails writes its error into its file and the others go on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from e2e.backends.kind import commands as c
from e2e.backends.kind import install as node_install
from e2e.backends.kind.nodeutils import Runner


def slug(text: str, limit: int = 120) -> str:
    """A file-name-safe form of a test id: tests/x.py::test_y[k8s-1.35] -> tests_x.py__test_y_k8s-1.35_."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:limit] or "_"


def node_commands(node: str, log_file: str) -> dict[str, list[str]]:
    """File name -> command, for what each node contributes."""
    return {
        f"{node}/crictl-info.json": c.crictl_info(node),
        f"{node}/cni-net.d.txt": c.docker_exec(node, ["ls", "-la", node_install.CONF_DIR]),
        f"{node}/cni-conflists.txt": c.docker_exec(
            node, ["sh", "-c", 'for f in "$1"/*; do echo "== $f"; cat "$f"; echo; done', "sh", node_install.CONF_DIR]
        ),
        f"{node}/cni-bin.txt": c.docker_exec(node, ["ls", "-la", node_install.BIN_DIR, node_install.FOLDER]),
        f"{node}/plugin-log.jsonl": c.node_cat(node, log_file),
    }


def namespace_commands(kubeconfig: str, namespace: str) -> dict[str, list[str]]:
    return {
        "kubectl-describe-pods.txt": c.kubectl_describe_pods(kubeconfig, namespace),
        "kubectl-events.txt": c.kubectl_events(kubeconfig, namespace),
        "kubectl-nodes.txt": c.kubectl_get_nodes_wide(kubeconfig),
    }


def capture(run: Runner, commands: dict[str, list[str]], dest: Path) -> None:
    for name, argv in commands.items():
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        result = run(argv, timeout=120)
        text = result.stdout
        if result.rc != 0:
            text += f"\n# `{' '.join(argv)}` exited {result.rc}\n{result.stderr}"
        path.write_text(text)


def collect(
    run: Runner,
    dest: Path,
    *,
    kubeconfig: str,
    namespace: str,
    nodes: Sequence[str],
    log_file: str,
    kind: str | None = None,
    cluster: str | None = None,
) -> Path:
    """Namespace and node state into dest; with kind and cluster also `kind export logs`."""
    dest.mkdir(parents=True, exist_ok=True)
    commands = namespace_commands(kubeconfig, namespace)
    for node in nodes:
        commands.update(node_commands(node, log_file))
    capture(run, commands, dest)
    if kind and cluster:
        result = run(c.kind_export_logs(kind, cluster, str(dest / "kind-logs")), timeout=600)
        if result.rc != 0:
            (dest / "kind-export-logs.err").write_text(result.stderr)
    return dest
