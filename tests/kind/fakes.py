"""A fake `docker` for kind nodes: an in-memory filesystem per node and a containerd that loads
the first CNI config by name, driven through the same argv the backend builds."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import posixpath
import shlex
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cniqs.common.run import Completed
from cniqs.install.kindnet import KINDNET, kindnet_chain
from cniqs.providers.cluster import commands
from cniqs.providers.cluster.nodes import Nodes
from cniqs.providers.kind.commands import DOCKER

CONF_EXTENSIONS = (".conf", ".conflist", ".json")


def kindnet_conflist(*subnets: str, mtu: int = 1500) -> str:
    """What kindnetd writes on a node (our own rendering of the shape kindnetd's cni.go writes)."""
    return json.dumps(kindnet_chain(KINDNET, list(subnets), "/run/cni-ipam-state", mtu=mtu), indent=2)


@dataclass
class FakeNode:
    machine: str = "x86_64"
    files: dict[str, bytes] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=lambda: {"/opt/cni/bin", "/etc/cni/net.d", "/var/log"})
    corrupt: set[str] = field(default_factory=set)  # paths whose copy arrives damaged
    log: list[list[str]] = field(default_factory=list)
    glibc: str = "2.36"
    glibc_too_old: bool = False  # the installed executable fails to load for want of a newer glibc

    def exists(self, path: str) -> bool:
        return path in self.files or path in self.links or path in self.dirs

    def resolve(self, path: str) -> str:
        for _ in range(10):
            if path not in self.links:
                return path
            path = posixpath.normpath(posixpath.join(posixpath.dirname(path), self.links[path]))
        raise OSError("too many links")

    def listdir(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix) :].split("/")[0] for p in [*self.files, *self.links, *self.dirs] if p.startswith(prefix)}
        return sorted(names)

    def remove_tree(self, path: str) -> None:
        prefix = path.rstrip("/") + "/"
        for store in (self.files, self.links):
            for key in [k for k in store if k == path or k.startswith(prefix)]:
                del store[key]
        self.dirs = {d for d in self.dirs if d != path and not d.startswith(prefix)}

    def move(self, src: str, dest: str) -> None:
        prefix = src.rstrip("/") + "/"
        if dest in self.dirs:
            self.remove_tree(dest)
        for key in [k for k in self.files if k == src or k.startswith(prefix)]:
            self.files[dest + key[len(src) :]] = self.files.pop(key)
        for key in [k for k in self.links if k == src or k.startswith(prefix)]:
            self.links[dest + key[len(src) :]] = self.links.pop(key)
        moved = {d for d in self.dirs if d == src or d.startswith(prefix)}
        self.dirs = (self.dirs - moved) | {dest + d[len(src) :] for d in moved}

    # containerd's view

    def loaded(self) -> dict[str, Any] | None:
        names = [n for n in self.listdir("/etc/cni/net.d") if n.endswith(CONF_EXTENSIONS)]
        for name in sorted(names):
            try:
                return json.loads(self.files[f"/etc/cni/net.d/{name}"])
            except (KeyError, ValueError):
                continue
        return None

    def crictl_info(self) -> str:
        networks: list[dict[str, Any]] = [
            {
                "Config": {
                    "Name": "cni-loopback",
                    "CNIVersion": "0.3.1",
                    "Plugins": [{"Network": {"type": "loopback"}, "Source": '{"type":"loopback"}'}],
                },
                "IFName": "lo",
            }
        ]
        chain = self.loaded()
        if chain is not None:
            plugins = [{"Network": {"type": p["type"]}, "Source": json.dumps(p)} for p in chain["plugins"]]
            networks.append(
                {
                    "Config": {"Name": chain["name"], "CNIVersion": chain["cniVersion"], "Plugins": plugins},
                    "IFName": "eth0",
                }
            )
        return json.dumps({"status": {}, "cniconfig": {"PluginConfDir": "/etc/cni/net.d", "Networks": networks}})


class FakeDocker:
    """A Runner: answers the argv lists the kind provider builds for docker exec and docker cp."""

    def __init__(self, nodes: dict[str, FakeNode]) -> None:
        self.nodes = nodes
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], *, input: str | None = None, timeout: float | None = None) -> Completed:
        argv = list(argv)
        self.calls.append(argv)
        if argv[:2] == ["docker", "cp"]:
            node_name, _, dest = argv[3].partition(":")
            return self.cp(argv, Path(argv[2]), self.nodes[node_name], dest)
        assert argv[:2] == ["docker", "exec"], argv
        rest = argv[2:]
        env: dict[str, str] = {}
        while rest[0].startswith("-"):
            if rest[0] == "-e":
                key, _, value = rest[1].partition("=")
                env[key] = value
                rest = rest[2:]
            else:
                rest = rest[1:]
        node = self.nodes[rest[0]]
        node.log.append(rest[1:])
        return self.exec(argv, node, rest[1:], input, env)

    def cp(self, argv: list[str], src: Path, node: FakeNode, dest: str) -> Completed:
        if node.exists(dest):
            return Completed(argv, 1, "", "fake docker cp only copies to a new path")
        node.dirs.add(dest)
        for path in sorted(src.rglob("*")):
            target = f"{dest}/{path.relative_to(src).as_posix()}"
            if path.is_dir():
                node.dirs.add(target)
            else:
                data = path.read_bytes()
                if path.relative_to(src).as_posix() in node.corrupt:
                    data += b"\0"
                node.files[target] = data
        return Completed(argv, 0, "", "")

    def unpack(self, argv: list[str], node: FakeNode, dest: str, data: str) -> Completed:
        """commands.UNPACK: mkdir dest (it must not exist), then the base64 tar archive on stdin into it."""
        if node.exists(dest):
            return Completed(argv, 1, "", f"mkdir: cannot create directory '{dest}': File exists")
        node.dirs.add(dest)
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(data))) as tar:
            for info in tar.getmembers():
                rel = posixpath.normpath(info.name)
                if rel == ".":
                    continue
                target = f"{dest}/{rel}"
                if info.isdir():
                    node.dirs.add(target)
                elif info.issym():
                    node.links[target] = info.linkname
                else:
                    content = tar.extractfile(info).read()  # type: ignore[union-attr]
                    node.files[target] = content + b"\0" if rel in node.corrupt else content
        return Completed(argv, 0, "", "")

    def exec(
        self, argv: list[str], node: FakeNode, cmd: list[str], stdin: str | None, env: dict[str, str]
    ) -> Completed:
        ok = Completed(argv, 0, "", "")

        def fail(msg: str, rc: int = 1) -> Completed:
            return Completed(argv, rc, "", msg)

        args = [a for a in cmd[1:] if a != "--"]
        match cmd[0]:
            case "uname":
                return Completed(argv, 0, node.machine + "\n", "")
            case "ls":
                path = args[-1]
                if path not in node.dirs:
                    return fail("no dir")
                return Completed(argv, 0, "".join(f"{n}\n" for n in node.listdir(path)), "")
            case "cat":
                real = node.resolve(args[0])
                if real not in node.files:
                    return fail(f"cat: {args[0]}: No such file or directory")
                return Completed(argv, 0, node.files[real].decode(), "")
            case "cp":
                assert args[0] == "/dev/stdin"
                node.files[args[1]] = (stdin or "").encode()
                return ok
            case "chmod":
                return ok
            case "mkdir" if cmd[1] == "-p":
                node.dirs.update(args[1:])
                return ok
            case "mv":
                src, dest = [a for a in args if not a.startswith("-")]
                if not node.exists(src):
                    return fail("mv: no such file")
                node.move(src, dest)
                return ok
            case "rm":
                recursive = "-rf" in args
                path = args[-1]
                if path in node.dirs and not recursive:
                    return fail("rm: is a directory")
                node.remove_tree(path)
                return ok
            case "ln":
                target, link = [a for a in args if not a.startswith("-")]
                node.links[link] = target
                return ok
            case "sh" if cmd[2] == commands.LINK_STATE:
                path = cmd[-1]
                if path in node.links:
                    return Completed(argv, 0, f"link {node.links[path]}\n", "")
                return Completed(argv, 0, "other\n" if node.exists(path) else "none\n", "")
            case "sh" if cmd[2] == commands.READ_DIR:
                path, boundary, suffixes = cmd[4], cmd[5], tuple(cmd[6:])
                if path not in node.dirs:
                    return fail("", commands.READ_DIR_MISSING)
                out = []
                for name in node.listdir(path):
                    real = node.resolve(f"{path}/{name}")
                    if name.endswith(suffixes) and real in node.files:
                        out.append(f"{boundary} f {name}\n{node.files[real].decode()}\n")
                    else:
                        out.append(f"{boundary} - {name}\n")
                return Completed(argv, 0, "".join(out), "")
            case "sh" if cmd[2] == commands.CHECK_PLUGIN:
                exe, boundary, paths = cmd[4], cmd[5], cmd[6:]
                sums = self.exec(argv, node, ["sha256sum", "--", *paths], None, env)
                ran = self.exec(argv, node, [exe], None, {"CNI_COMMAND": "VERSION"})
                out = f"{sums.stdout}{boundary}\n{ran.stdout}{ran.stderr}{boundary} {ran.rc}\n"
                return Completed(argv, 0, out, "")
            case "sh" if cmd[2] == commands.UNPACK:
                return self.unpack(argv, node, cmd[4], stdin or "")
            case "sh" if cmd[2] == commands.WRITE_ATOMIC:
                tmp, path = cmd[4:6]
                node.files[tmp] = (stdin or "").encode()
                node.move(tmp, path)
                return ok
            case "sh" if len(cmd) == 3 and " && " in cmd[2]:  # commands.node_in_turn
                result = ok
                for words in in_turn_commands(cmd[2]):
                    result = self.exec(argv, node, words, stdin, env)
                    if result.rc != 0:
                        break
                return result
            case "sh":
                return ok if node.exists(cmd[-1]) else fail("")
            case "sha256sum":
                out, rc = [], 0
                for path in args:
                    real = node.resolve(path)
                    if real in node.files:
                        out.append(f"{hashlib.sha256(node.files[real]).hexdigest()}  {path}\n")
                    else:
                        rc = 1
                return Completed(argv, rc, "".join(out), "")
            case "getconf":
                return Completed(argv, 0, f"glibc {node.glibc}\n", "")
            case "crictl":
                assert cmd[1] == "info", cmd
                return Completed(argv, 0, node.crictl_info(), "")
            case "/opt/cni/bin/cni-quickstart":
                if node.resolve("/opt/cni/bin/cni-quickstart") not in node.files or env.get("CNI_COMMAND") != "VERSION":
                    return fail("not runnable", 126)
                if node.glibc_too_old:  # what the dynamic loader says for a build on a newer userland
                    return fail(f"{cmd[0]}: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found", 1)
                return Completed(argv, 0, json.dumps({"cniVersion": "1.1.0", "supportedVersions": ["0.3.1"]}), "")
        return fail(f"fake docker: unknown command {cmd}", 127)


def in_turn_commands(script: str) -> list[list[str]]:
    """The commands of a node_in_turn script."""
    commands: list[list[str]] = [[]]
    for word in shlex.split(script):
        if word == "&&":
            commands.append([])
        else:
            commands[-1].append(word)
    return commands


def on_docker(run: Any) -> Nodes:
    """The fake (or any runner) as the Kubernetes layer reaches kind nodes: through `docker exec`."""
    return Nodes(run, DOCKER)


# `podman network inspect kind` (netavark) on this project's machines: an IPv6 and an IPv4 subnet.
PODMAN_KIND_NETWORK = [
    {
        "name": "kind",
        "driver": "bridge",
        "network_interface": "podman1",
        "subnets": [
            {"subnet": "fc00:f853:ccd:e793::/64", "gateway": "fc00:f853:ccd:e793::1"},
            {"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"},
        ],
        "ipv6_enabled": True,
        "dns_enabled": True,
    }
]
