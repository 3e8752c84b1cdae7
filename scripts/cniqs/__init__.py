"""cniqs: the library around the cni-quickstart plugin, and the workshop tool on top of it.

Layers, each importing only those below it:

    cli/                  the `cniqs` tool (argument parsing, output, the state file)
    providers/            local, kube, kind, and k8s (the Kubernetes layer every cluster provider shares);
                          local and kube need the package's extras of those names (gRPC and the CRI API,
                          cryptography), imported only when the provider is asked for.
                          kube/cluster.py brings a cluster up over kube/state, network, controlplane, node
                          and teardown; kind/provider.py over kind/images, diagnostics, coredns and the
                          versions table kind/nodeimages (read through kind/versions); k8s/backend.py over
                          k8s/beliefs (a pod's address read back) and k8s/installer (the DaemonSet's API calls)
    provider.py           the Provider and Backend interfaces
    conflist.py build.py  installers and the node executable build, over nodefs.NodeFiles
    common/               the command runner, waits, typed errors, parsers, processes, signals, state files
                          and the stale sweep every `cleanup|down --stale` shares (statefile, teardowns)
"""
