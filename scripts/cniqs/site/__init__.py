"""cniqs.site: this machine as an air-gapped site, the one place that builds what such a site cannot pull.

An air-gapped site runs kind as kind's "local registry" guide describes: a registry the nodes reach, and
containerd mirrors in the nodes (cniqs.providers.kind.mirror). The providers know only that: an image source
and an engine. Everything that exists because this machine has no internet is here, and nothing outside
imports it except the `python -m cniqs.site` command:

    nodeimage.py nodefiles.py  a kind node image from Debian's debootstrap and Kubernetes built from Go modules
    componentimages.py         the images inside it (control plane, kube-proxy, etcd, coredns, pause, kindnet)
                               as one OCI archive the node's containerd imports
    images.py                  the images a site's mirror holds for a run: the node image, the pod image, the
                               DaemonSet's installer image, pushed under the names the run asks for
    services.py                the site's services: a network namespace holding a registry, a DNS server and a
                               web server (the connectivity target), and a Docker engine; pids recorded,
                               everything stopped and removed by `down`
    runtime.py                 the runc wrapper dockerd needs on machines whose capability bounding set is short

    python -m cniqs.site up        # start the services (root)
    python -m cniqs.site push      # build what is missing and push it to the site's registry
    python -m cniqs.site env       # the environment a run uses: `eval "$(python -m cniqs.site env)"`
    python -m cniqs.site down      # stop and remove everything `up` started
"""
