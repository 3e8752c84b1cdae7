"""Builders of other projects' tools: Kubernetes, containerd, crictl, etcd, CoreDNS and kind from their Go
modules (kubebin), and Debian root filesystems from debootstrap (debian). Build outputs, cached, never committed."""
