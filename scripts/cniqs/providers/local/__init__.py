"""The local provider: one real containerd node in network namespaces on this machine, driven over CRI.

See node.py for the node, attach.py for a node kept between processes, cleanup.py for teardown.
"""
