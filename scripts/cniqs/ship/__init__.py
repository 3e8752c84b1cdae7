"""Shipping the plugin: the node executable (embedded CPython with the plugin frozen in), built for a node's
architecture (build, embed, launcher.c), and its arm64 cross build, checked under emulation (arm64)."""
