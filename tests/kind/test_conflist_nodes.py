"""The derived conflist on several nodes and CIDRs, through cniqs.install.conflist (the one installer) with
an in-memory NodeFiles, and through NodeShellFiles against the fake docker."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext

import pytest

from cniqs.common.errors import InstallError
from cniqs.install import conflist
from cniqs.providers.cluster import install
from cniqs.providers.cluster.commands import READ_DIR, WRITE_ATOMIC
from cniqs.providers.cluster.nodes import NodeShellFiles
from tests.kind.fakes import FakeDocker, FakeNode, kindnet_conflist, on_docker

ENTRY = conflist.chain_entry(fakeIPv4="192.0.2.0/24", fakeIPv6="2001:db8:1::/64")
CONF = "/etc/cni/net.d"


class MemoryFiles:
    """NodeFiles over a dict; records writes so the atomic-write contract is visible."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = dict(files)
        self.writes: list[str] = []

    def list_dir(self, path: str) -> list[str]:
        return sorted(p.rsplit("/", 1)[1] for p in self.files if p.rsplit("/", 1)[0] == path)

    def read_dir(self, path: str, suffixes: tuple[str, ...]) -> dict[str, str | None]:
        return {name: self.files[f"{path}/{name}"] if name.endswith(suffixes) else None for name in self.list_dir(path)}

    def read_text(self, path: str) -> str:
        if path not in self.files:
            raise FileNotFoundError(path)
        return self.files[path]

    def write_atomic(self, path: str, text: str) -> None:
        self.writes.append(path)
        self.files[path] = text

    def remove(self, path: str) -> None:
        self.files.pop(path, None)

    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()


NODES = {
    "kind-control-plane": ("10.244.0.0/24",),
    "kind-worker": ("10.244.1.0/24",),
    "kind-worker2": ("10.244.2.0/24",),
    "dual-worker": ("10.244.3.0/24", "fd00:10:244:3::/64"),
}


@pytest.mark.parametrize("node", sorted(NODES))
def test_each_node_gets_its_own_chain_with_the_plugin_last(node: str) -> None:
    subnets = NODES[node]
    source = kindnet_conflist(*subnets)
    files = MemoryFiles({f"{CONF}/10-kindnet.conflist": source})
    plan = conflist.install(files, CONF, ENTRY)
    assert plan is not None and plan.path == f"{CONF}/{conflist.INSTALLED_NAME}"
    derived = json.loads(files.files[plan.path])
    original = json.loads(source)
    assert derived["name"] == "kindnet"  # host-local keys allocations by network name
    assert derived["cniVersion"] == "0.3.1"
    assert [p["type"] for p in derived["plugins"]] == ["ptp", "portmap", "cni-quickstart"]
    assert derived["plugins"][:2] == original["plugins"]  # this node's own subnets, untouched
    assert [r[0]["subnet"] for r in derived["plugins"][0]["ipam"]["ranges"]] == list(subnets)
    assert derived["plugins"][-1] == ENTRY
    assert files.files[f"{CONF}/10-kindnet.conflist"] == source  # kindnetd's file is never edited


def test_nodes_differ_only_in_their_subnets() -> None:
    derived = {}
    for node, subnets in NODES.items():
        files = MemoryFiles({f"{CONF}/10-kindnet.conflist": kindnet_conflist(*subnets)})
        plan = conflist.install(files, CONF, ENTRY)
        assert plan is not None
        derived[node] = plan.chain
    assert (
        derived["kind-worker"]["plugins"][0]["ipam"]["ranges"]
        != derived["kind-worker2"]["plugins"][0]["ipam"]["ranges"]
    )
    assert len({json.dumps(d["plugins"][1:]) for d in derived.values()}) == 1


def test_install_is_idempotent_and_uninstall_removes_only_its_file() -> None:
    files = MemoryFiles({f"{CONF}/10-kindnet.conflist": kindnet_conflist("10.244.1.0/24")})
    assert conflist.install(files, CONF, ENTRY) is not None
    assert conflist.install(files, CONF, ENTRY) is None
    assert conflist.uninstall(files, CONF) is True
    assert list(files.files) == [f"{CONF}/10-kindnet.conflist"]
    assert conflist.uninstall(files, CONF) is False


def test_docker_exec_files_write_through_a_temp_file_in_the_same_directory() -> None:
    node = FakeNode()
    node.files[f"{CONF}/10-kindnet.conflist"] = kindnet_conflist("10.244.1.0/24").encode()
    run = FakeDocker({"kind-worker": node})
    files = NodeShellFiles(on_docker(run), "kind-worker")
    plan = conflist.install(files, CONF, ENTRY)
    assert plan is not None
    tmp = f"{CONF}/.00-cni-quickstart.conflist.cniqs.tmp"
    assert [call[2] for call in node.log] == [READ_DIR, WRITE_ATOMIC]  # the conf dir read in one exec, one write
    assert node.log[1] == ["sh", "-c", WRITE_ATOMIC, "sh", tmp, f"{CONF}/00-cni-quickstart.conflist"]
    assert json.loads(node.files[f"{CONF}/00-cni-quickstart.conflist"]) == plan.chain
    assert files.list_dir(CONF) == ["00-cni-quickstart.conflist", "10-kindnet.conflist"]
    assert conflist.uninstall(files, CONF)
    assert files.list_dir(CONF) == ["10-kindnet.conflist"]


def test_base_variant_keeps_kindnets_network_and_refuses_missing_families() -> None:
    single = json.loads(kindnet_conflist("10.244.1.0/24"))
    dual = json.loads(kindnet_conflist("10.244.1.0/24", "fd00:10:244:1::/64"))
    v1 = install.base_variant(single, "1.0.0", dual_stack=False)
    assert v1["cniVersion"] == "1.0.0" and v1["name"] == "kindnet"
    assert v1["plugins"] == single["plugins"]
    assert single["cniVersion"] == "0.3.1"  # the input is not modified
    assert install.base_variant(dual, "1.1.0", dual_stack=True)["plugins"] == dual["plugins"]
    with pytest.raises(NotImplementedError, match="--kind-ip-family dual"):
        install.base_variant(single, "0.3.1", dual_stack=True)
    with pytest.raises(NotImplementedError, match="dual-stack"):
        install.base_variant(dual, "0.3.1", dual_stack=False)


def test_use_base_writes_its_own_file_and_install_derives_from_it() -> None:
    node = FakeNode()
    node.files[f"{CONF}/10-kindnet.conflist"] = kindnet_conflist("10.244.1.0/24").encode()
    run = FakeDocker({"w": node})
    assert install.use_base(on_docker(run), "w", None) is None  # no variant to remove: nothing changes
    assert [call[2] for call in node.log] == [READ_DIR]  # one look at the conf dir
    chain = install.use_base(on_docker(run), "w", "1.0.0")
    assert chain is not None and chain["cniVersion"] == "1.0.0"
    assert install.base_state(on_docker(run), "w", chain)[0]
    plan = conflist.install(NodeShellFiles(on_docker(run), "w"), CONF, ENTRY)
    assert plan is not None and plan.source == f"{CONF}/{install.BASE_NAME}"
    assert plan.chain["cniVersion"] == "1.0.0"
    conflist.uninstall(NodeShellFiles(on_docker(run), "w"), CONF)
    restored = install.use_base(on_docker(run), "w", None)
    assert restored is not None and restored["cniVersion"] == "0.3.1"  # kindnet's own, which the runtime loads now
    assert NodeShellFiles(on_docker(run), "w").list_dir(CONF) == ["10-kindnet.conflist"]


def test_docker_exec_files_read_a_missing_dir_as_file_not_found() -> None:
    with pytest.raises(FileNotFoundError):
        NodeShellFiles(on_docker(FakeDocker({"w": FakeNode()})), "w").read_dir("/etc/cni/none", (".conf",))


def test_docker_exec_files_report_a_vanished_file_as_file_not_found() -> None:
    """The installer tolerates a file removed between listing and reading (a concurrent uninstall)."""
    run = FakeDocker({"w": FakeNode()})
    with pytest.raises(FileNotFoundError):
        NodeShellFiles(on_docker(run), "w").read_text(f"{CONF}/00-cni-quickstart.conflist")


def test_use_base_without_kindnets_file_says_so() -> None:
    run = FakeDocker({"w": FakeNode()})
    with pytest.raises(InstallError, match="10-kindnet.conflist is missing or not a file"):
        install.use_base(on_docker(run), "w", "1.0.0")
    assert install.use_base(on_docker(run), "w", None) is None  # nothing to restore: no variant is there
