"""cniqs: the library around the cni-quickstart plugin, and the workshop tool on top of it.

Words, each meaning one thing everywhere in the code, the docs and the command line:

    provider   where the nodes run, as the user picks it: local, kube or kind (`--provider`; `cniqs.providers`)
    backend    one node or cluster a provider brought up, what the tool and the tests drive (provider.Backend)
    cluster    a real Kubernetes: the kube and kind providers share its layer (providers/cluster)
    node       one machine of a backend: a containerd in network namespaces (local, kube) or a kind container
    engine     what runs kind's node containers: Docker or podman
    tier       a tox environment of the suite: lint, unit, local, load, quickstart, kube, e2e (kind), arm64
    ship       build the plugin's node executable for a node's architecture (ship/)
    install    put the plugin on a node: its executable and a conflist derived from the node's chain (install/)
    site       this machine as an air-gapped site (a registry, containerd mirrors, images built here): the fence
               around what exists only because these machines are offline (site/)

Layers, each importing only those below it (tests/test_layering.py checks it, and that this list names
every package):

    cli/ site/ bench/     the `cniqs` tool; the offline site; the benchmarks
    providers/            the registry of providers by name; their extras are imported only when one is asked for
    providers/kind/       kind clusters on an engine, over providers/cluster
    providers/kube/       a Kubernetes built here on local nodes, over providers/cluster and providers/local
    providers/cluster/    the Kubernetes layer: API client, kubectl, crictl, the DaemonSet installer
    providers/local/      containerd nodes in network namespaces, driven over CRI
    ship/                 the node executable (build, embed, launcher.c) and its arm64 build (arm64)
    install/              conflist, kindnet (its chain), executable, nodefs (a node's files), nodeinstall
    provider.py           the Provider and Backend interfaces; resources.py: where the data files are
    toolchain/            other projects' tools built here: kubebin (Go modules), debian (debootstrap)
    common/               the command runner, waits, typed errors, parsers, processes, signals, state files
"""
