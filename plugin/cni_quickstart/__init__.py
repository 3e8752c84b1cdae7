"""cni-quickstart: a chained CNI plugin that rewrites the pod IP a runtime reports.

Standard library only: the plugin is frozen into a node executable and must not
pull in anything a kind node would lack.
"""

CNI_TYPE = "cni-quickstart"
SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
