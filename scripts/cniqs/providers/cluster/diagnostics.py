"""Diagnostics into an artifacts folder, collected before teardown when anything failed.

Every step is best effort: a step that fails writes its error into its file and the others go on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cniqs.common.run import CommandError, Runner
from cniqs.providers.cluster import commands as cmd
from cniqs.providers.cluster import install as node_install
from cniqs.providers.cluster.commands import NodeAccess
from cniqs.providers.cluster.nodes import KUBELET_CNI, CniDirs, Nodes, read_optional


def slug(text: str, limit: int = 120) -> str:
    """A file-name-safe form of a test id: tests/x.py::test_y[k8s-1.35] -> tests_x.py__test_y_k8s-1.35_."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:limit] or "_"


def node_commands(access: NodeAccess, node: str, log_file: str, cni: CniDirs = KUBELET_CNI) -> dict[str, list[str]]:
    """File name -> command, for what each node contributes."""
    conf_dir = cni.conf_dir
    return {
        f"{node}/crictl-info.json": cmd.crictl_info(access, node),
        f"{node}/cni-net.d.txt": access.exec_argv(node, ["ls", "-la", conf_dir]),
        f"{node}/cni-conflists.txt": access.exec_argv(
            node, ["sh", "-c", 'for f in "$1"/*; do echo "== $f"; cat "$f"; echo; done', "sh", conf_dir]
        ),
        f"{node}/cni-bin.txt": access.exec_argv(node, ["ls", "-la", cni.bin_dir, cni.folder]),
        f"{node}/plugin-log.jsonl": cmd.node_cat(access, node, log_file),
    }


def namespace_commands(kubeconfig: str, namespace: str) -> dict[str, list[str]]:
    return {
        "kubectl-describe-pods.txt": cmd.kubectl_describe_pods(kubeconfig, namespace),
        "kubectl-events.txt": cmd.kubectl_events(kubeconfig, namespace),
        "kubectl-nodes.txt": cmd.kubectl_get_nodes_wide(kubeconfig),
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
    nodes: Nodes, dest: Path, *, kubeconfig: str, namespace: str, node_names: Sequence[str], log_file: str
) -> Path:
    """Namespace and node state into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    commands = namespace_commands(kubeconfig, namespace)
    for node in node_names:
        commands.update(node_commands(nodes.access, node, log_file, nodes.cni))
    capture(nodes.run, commands, dest)
    return dest


def summary(
    nodes: Nodes, node_names: Sequence[str], entry: dict[str, Any] | None, *, log_file: str, kubeconfig: str,
    namespace: str,
) -> str:  # fmt: skip
    """A failing test's few lines: each node's loaded chain and the end of its plugin log, the namespace's
    latest events."""
    parts = []
    for node in node_names:
        try:
            _, chain = node_install.chain_state(nodes, node, entry)
        except CommandError as exc:
            chain = str(exc)
        log_tail = (read_optional(nodes, node, log_file) or "(no plugin log)").splitlines()[-10:]
        parts.append(f"== {node}: loaded chain {chain}\n" + "\n".join(log_tail))
    events = nodes.run(cmd.kubectl_events(kubeconfig, namespace), timeout=30)
    parts.append(f"== events in {namespace}\n" + "\n".join((events.stdout or events.stderr).splitlines()[-20:]))
    return "\n".join(parts)
