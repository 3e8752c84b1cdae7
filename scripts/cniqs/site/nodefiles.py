"""The text files of the kind node image the offline site builds (cniqs.site.nodeimage): pure renderers.

They keep kind's node-image contract as its CLI uses it (as kind's sources define it; the files are this module's own):
the image's entrypoint prepares the container then execs systemd; kind writes /kind/kubeadm.conf and
runs `kubeadm init|join` in the node, reads /kind/version and /kind/manifests/default-cni.yaml (its
default CNI, templated with the pod subnet and given CONTROL_PLANE_ENDPOINT), and
/kind/manifests/default-storage.yaml. kubelet is a systemd unit with kubeadm's drop-in; containerd
serves CRI on /run/containerd/containerd.sock with the systemd cgroup driver (kind's kubeadm config
sets `cgroupDriver: systemd` and `cgroupRoot: /kubelet`).
"""

from __future__ import annotations

import json

# kind templates the CNI manifest (Go text/template, {{ .PodSubnet }}) when it holds this sentence, and
# adds CONTROL_PLANE_ENDPOINT to the first container's env when it holds the second: kind's interface.
KIND_TEMPLATE_MARK = "would you kindly template this file"
KIND_PATCH_MARK = "would you kindly patch this file"

ENTRYPOINT = r"""#!/bin/bash
# cni-quickstart's kind node entrypoint: prepare this container to run systemd, containerd and kubelet,
# then exec the command (/sbin/init). Written for nodes built by cniqs.site.nodeimage.
set -o errexit -o nounset -o pipefail

say() { echo "cniqs-node: $*" >&2; }

# Pod volumes need shared mount propagation (kubelet's mount propagation for hostPath volumes).
mount --make-rshared /

# cgroup v1 with a private cgroup namespace (kind passes --cgroupns=private): kind's kubelet config has
# cgroupRoot /kubelet; systemd in here must not remove those cgroups, so each is bind-mounted on itself.
if [[ ! -f /sys/fs/cgroup/cgroup.controllers ]]; then
  say "cgroup v1: creating /kubelet and /kubelet.slice in every hierarchy"
  mount --make-rprivate /sys/fs/cgroup
  for hierarchy in $(findmnt -lun -o target -t cgroup); do
    for group in kubelet kubelet.slice; do
      mkdir -p "$hierarchy/$group"
      if [[ -f "$hierarchy/cpuset.cpus" ]]; then
        cat "$hierarchy/cpuset.cpus" > "$hierarchy/$group/cpuset.cpus"
        cat "$hierarchy/cpuset.mems" > "$hierarchy/$group/cpuset.mems"
      fi
      mount --bind "$hierarchy/$group" "$hierarchy/$group"
    done
  done
fi

# Every node needs its own machine-id and product_uuid (kubelet and kubeadm read them).
rm -f /etc/machine-id
systemd-machine-id-setup >/dev/null
if [[ ! -f /kind/product_uuid ]]; then cat /proc/sys/kernel/random/uuid > /kind/product_uuid; fi
for f in /sys/class/dmi/id/product_uuid /sys/devices/virtual/dmi/id/product_uuid; do
  if [[ -f "$f" ]]; then mount -o ro,bind /kind/product_uuid "$f"; fi
done

# iptables: the backend that already holds rules (the host's) wins; nft when neither does.
legacy=$( (iptables-legacy-save || true) 2>/dev/null | grep -c '^-' || true)
nft=$( (timeout 5 iptables-nft-save || true) 2>/dev/null | grep -c '^-' || true)
mode=nft
if [[ "$legacy" -gt "$nft" ]]; then mode=legacy; fi
say "iptables backend: $mode (legacy rules $legacy, nft rules $nft)"
update-alternatives --set iptables "/usr/sbin/iptables-$mode" >/dev/null
update-alternatives --set ip6tables "/usr/sbin/ip6tables-$mode" >/dev/null
echo "$mode" > /kind/iptables-mode

# On Docker the node's resolv.conf names Docker's embedded DNS server, 127.0.0.11, which only this container's
# own processes can reach: CoreDNS (which forwards to this file) would ask itself and stop on the loop. Serve
# DNS on the node's own address instead, redirected to the embedded server's real ports, which Docker's nat
# rules in this namespace name. Podman's resolv.conf names a reachable server: nothing to do there.
if grep -q '^nameserver 127\.0\.0\.11' /etc/resolv.conf; then
  node_ip=$(ip -4 -o addr show dev eth0 | awk '{split($4, a, "/"); print a[1]; exit}')
  rules=$(iptables-save -t nat)
  port() { sed -n "s/.*-d 127\.0\.0\.11\/32 -p $1 .*--to-destination 127\.0\.0\.11:\([0-9]*\).*/\1/p" | head -n1; }
  udp=$(port udp <<<"$rules")
  tcp=$(port tcp <<<"$rules")
  if [[ -n "$node_ip" && -n "$udp" && -n "$tcp" ]]; then
    say "Docker DNS: serving it on $node_ip:53 (embedded server udp $udp, tcp $tcp)"
    echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet
    for chain in PREROUTING OUTPUT; do
      iptables -t nat -A "$chain" -d "$node_ip" -p udp --dport 53 -j DNAT --to-destination "127.0.0.11:$udp"
      iptables -t nat -A "$chain" -d "$node_ip" -p tcp --dport 53 -j DNAT --to-destination "127.0.0.11:$tcp"
    done
    sed "s/^nameserver 127\.0\.0\.11/nameserver $node_ip/" /etc/resolv.conf > /tmp/resolv.conf.cniqs
    cat /tmp/resolv.conf.cniqs > /etc/resolv.conf
    rm -f /tmp/resolv.conf.cniqs
  else
    say "Docker DNS: could not find the embedded server's rules (node $node_ip, udp $udp, tcp $tcp)"
  fi
fi

say "starting $*"
exec "$@"
"""

CONTAINERD_SERVICE = """[Unit]
Description=containerd (CRI for kubelet)
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=1
# No Limit*=infinity: the node container's own limits are low (podman needs explicit low ulimits: CONTAINERS_CONF)
# and systemd cannot raise a limit above them.
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
"""

KUBELET_SERVICE = """[Unit]
Description=kubelet
ConditionPathExists=/var/lib/kubelet/config.yaml
After=containerd.service

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=1s
CPUAccounting=true
MemoryAccounting=true
Slice=kubelet.slice
KillMode=process

[Install]
WantedBy=multi-user.target
"""

# kubeadm's contract with the kubelet unit: it writes config.yaml, kubeadm-flags.env and the kubeconfigs.
KUBELET_KUBEADM_DROPIN = """[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \\
 --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""

# On cgroup v1: kubelet's cgroupRoot /kubelet (kind's kubeadm config) in the systemd hierarchy, before each start.
KUBELET_NODE_DROPIN = """[Service]
ExecStartPre=/bin/sh -ec 'if [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then \\
 mkdir -p /sys/fs/cgroup/systemd/kubelet; fi'
"""

KUBELET_SLICE = """[Unit]
Description=kubelet and its pods
Before=slices.target

[Slice]
MemoryAccounting=true
CPUAccounting=true
"""

KUBELET_DEFAULTS = "KUBELET_EXTRA_ARGS=--runtime-cgroups=/system.slice/containerd.service\n"

CRICTL_YAML = (
    "runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\n"
)

SYSCTL = """# Service traffic to the node's loopback (NodePorts on 127.0.0.1), as on kind's nodes.
net.ipv4.conf.all.route_localnet=1
net.ipv4.ip_forward=1
"""


def containerd_config(sandbox_image: str) -> str:
    """containerd 2.x reads this version-2 file (it migrates it): CRI, overlayfs on the node's /var volume."""
    return f"""version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  # runc on these machines cannot lower oom_score_adj: without this no sandbox starts.
  restrict_oom_score_adj = true
  tolerate_missing_hugepages_controller = true

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
"""


# The default CNI: kindnetd is not served by the Go module proxy (sigs.k8s.io/kind/images/kindnetd is a
# nested module with no tags), so each node runs this small stand-in with kindnetd's node-level effects:
# the conflist kindnetd writes (ptp + host-local on the node's podCIDR, then portmap; rewritten at every
# start), a route to every other node's podCIDR through that node, and masquerade for traffic leaving
# the pod subnet.
KINDNET_SCRIPT = r"""#!/bin/sh
# cniqs kindnet stand-in: see cniqs.site.nodefiles.
set -u
sa=/var/run/secrets/kubernetes.io/serviceaccount
conf=/etc/cni/net.d/10-kindnet.conflist
mtu=$(cat /sys/class/net/eth0/mtu 2>/dev/null || echo 1500)
k() {
  kubectl --server "https://${CONTROL_PLANE_ENDPOINT}" --certificate-authority "$sa/ca.crt" \
    --token "$(cat "$sa/token")" "$@"
}
# name podCIDR InternalIP, one node a line
rows='{range .items[*]}{.metadata.name}{" "}{.spec.podCIDR}{" "}'
rows="$rows"'{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}'
write_conf() {
  cat > "$conf.tmp" <<EOF
{
  "cniVersion": "0.3.1",
  "name": "kindnet",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{"dst": "0.0.0.0/0"}],
        "ranges": [[{"subnet": "$1"}]]
      },
      "mtu": $mtu
    },
    {
      "type": "portmap",
      "capabilities": {"portMappings": true}
    }
  ]
}
EOF
  mv "$conf.tmp" "$conf"
  echo "kindnet: wrote $conf for podCIDR $1"
}
written=""
while true; do
  k get nodes -o jsonpath="$rows" > /tmp/nodes || { sleep 2; continue; }
  while read -r name cidr address; do
    [ -n "$cidr" ] || continue
    if [ "$name" = "$NODE_NAME" ]; then
      if [ "$cidr" != "$written" ]; then write_conf "$cidr"; written=$cidr; fi
    elif [ -n "$address" ]; then
      ip route replace "$cidr" via "$address" || echo "kindnet: no route to $cidr via $address"
    fi
  done < /tmp/nodes
  iptables -t nat -C POSTROUTING -s "$POD_SUBNET" ! -d "$POD_SUBNET" -j MASQUERADE 2>/dev/null \
    || iptables -t nat -A POSTROUTING -s "$POD_SUBNET" ! -d "$POD_SUBNET" -j MASQUERADE
  sleep 5
done
"""


def kindnet_manifest(image: str) -> str:
    """The DaemonSet kind installs as its default CNI (kind fills in {{ .PodSubnet }} and the endpoint)."""
    env = [
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "POD_SUBNET", "value": "{{ .PodSubnet }}"},
    ]
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "kindnet", "namespace": "kube-system", "labels": {"app": "kindnet"}},
        "spec": {
            "selector": {"matchLabels": {"app": "kindnet"}},
            "template": {
                "metadata": {"labels": {"app": "kindnet"}},
                "spec": {
                    "hostNetwork": True,
                    "serviceAccountName": "kindnet",
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [
                        {
                            "name": "kindnet-cni",
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/bin/sh", "/usr/local/bin/cniqs-kindnet"],
                            "env": env,
                            "securityContext": {"privileged": True},
                            "volumeMounts": [{"name": "cni-cfg", "mountPath": "/etc/cni/net.d"}],
                        }
                    ],
                    "volumes": [
                        {"name": "cni-cfg", "hostPath": {"path": "/etc/cni/net.d", "type": "DirectoryOrCreate"}}
                    ],
                },
            },
        },
    }
    rbac = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "kindnet"},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "kindnet"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kindnet"},
            "subjects": [{"kind": "ServiceAccount", "name": "kindnet", "namespace": "kube-system"}],
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kindnet", "namespace": "kube-system"}},
    ]
    docs = [json.dumps(doc, indent=2) for doc in [*rbac, daemonset]]
    header = f"# {KIND_TEMPLATE_MARK}\n# {KIND_PATCH_MARK}\n"
    return header + "".join(f"---\n{doc}\n" for doc in docs)


# kind applies this as the default storage; the offline site has no provisioner image, so only the class.
STORAGE_MANIFEST = """apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
"""

# podman's engine settings for kind's node containers on the site's hosts (CONTAINERS_CONF): without low
# explicit ulimits runc fails "error setting rlimit ... operation not permitted".
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
"""
