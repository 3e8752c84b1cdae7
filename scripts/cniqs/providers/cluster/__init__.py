"""The Kubernetes layer every cluster provider shares: the API client, kubectl, crictl, node installs.

A provider hands it Nodes: a runner, a NodeAccess (how a command or a copy reaches one of its nodes:
kind through `docker exec` and `docker cp`) and the nodes' CNI dirs (kubelet's by default); plus a
kubeconfig and a builder of the node executable per architecture.

backend.py is the Backend; beliefs.py reads a pod's address back from everywhere the cluster keeps it;
daemonset.py builds the installer image and renders its DaemonSet, installer.py applies, waits for and deletes it.
"""
