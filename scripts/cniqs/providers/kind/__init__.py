"""The kind provider: kind clusters on docker or podman. Cluster creation and node access (`docker exec`,
`docker cp`, or podman's same verbs) are here; everything that talks to Kubernetes is the shared layer,
cniqs.providers.cluster."""
