"""The kind provider: kind clusters in Docker. Cluster creation and node access (`docker exec`,
`docker cp`) are here; everything that talks to Kubernetes is the shared layer, cniqs.providers.k8s."""
