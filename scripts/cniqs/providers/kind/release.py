"""The kind found on this machine, asked before anything is created or loaded: `kind version` against the
versions table (cniqs.providers.kind.versions), and the nodes' containerd against what its `kind load` reads.

Each check raises Refused with one line that names the kind release needed and how to get it.
"""

from __future__ import annotations

from collections.abc import Sequence

from cniqs.common.errors import ParseError, Refused
from cniqs.common.run import Runner
from cniqs.providers.cluster.commands import NodeAccess
from cniqs.providers.kind import commands, versions


def found_kind(run: Runner, kind: str) -> versions.KindVersion:
    """The version of this kind binary (`kind version`)."""
    result = run(commands.kind_version(kind), timeout=60)
    if result.rc != 0:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise Refused(f"`{kind} version` failed ({reason}): cni-quickstart needs to know which kind it runs")
    try:
        return versions.parse_kind_version(result.stdout)
    except ParseError as exc:
        raise Refused(f"{exc}: cni-quickstart needs to know which kind ({kind}) it runs") from None


def supported_kind(run: Runner, kind: str) -> versions.KindVersion:
    """The version of this kind binary; Refused when it cannot be read or is older than every release in the table."""
    found = found_kind(run, kind)
    if versions.for_kind(found)[0] is None:
        raise Refused(versions.refusal(found, versions.NEWEST.images[0].minor) or f"kind {found} is not supported")
    return found


def problems(run: Runner, kind: str) -> list[str]:
    """For prerequisites: a kind whose version cannot be read, or one older than every release in the table."""
    try:
        supported_kind(run, kind)
    except Refused as exc:
        return [str(exc)]
    return []


def check_create(run: Runner, kind: str, minor: str, *, table_image: bool = True) -> versions.KindVersion:
    """Before `kind create cluster`: Refused when the kind found cannot create Kubernetes `minor`
    (table_image=False: the node image is not the table's, e.g. another patch from a mirror, so only kubeadm's
    config version matters)."""
    found = found_kind(run, kind)
    reason = versions.refusal(found, minor, table_image=table_image)
    if reason:
        raise Refused(reason)
    return found


def check_load(run: Runner, kind: str, access: NodeAccess, nodes: Sequence[str]) -> None:
    """Before `kind load image-archive`: Refused when this kind's `kind load` cannot read a node's containerd
    config version (kind pkg/cluster/nodeutils/util.go reads it from `containerd config dump` on each node)."""
    found = found_kind(run, kind)
    for node in nodes:
        dump = run(access.exec_argv(node, commands.containerd_config_dump()), timeout=60)
        if dump.rc != 0:
            reason = (dump.stderr.strip().splitlines() or ["no output"])[-1]
            raise Refused(f"`containerd config dump` on {node} failed ({reason}): `kind load` needs it too")
        try:
            config_version = versions.containerd_config_version(dump.stdout)
        except ParseError as exc:
            raise Refused(f"{exc} on {node}: `kind load` reads it too") from None
        refused = versions.load_refusal(found, config_version)
        if refused:
            raise Refused(f"{node}: {refused}")
