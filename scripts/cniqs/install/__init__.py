"""Installing the plugin on a node: the conflist derived from the node's chain (conflist), kindnet's chain
itself (kindnet), the file operations every provider hands the installers (nodefs), and the DaemonSet's node
installer (nodeinstall)."""
