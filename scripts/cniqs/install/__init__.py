"""Installing the plugin on a node: the conflist derived from the node's chain (conflist), kindnet's chain
itself (kindnet), the plugin's folder and its symlink in the CNI bin dir (executable), the file operations
every provider hands the installers (nodefs), and the DaemonSet's node installer (nodeinstall)."""
