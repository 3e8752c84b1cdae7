"""Plumbing every provider shares: the command runner, waits, typed errors, parsers of what node tools
print (containerd's loaded CNI config, `ip addr`, mountinfo), processes and signals, a run's state file
and the sweep for the roots a killed run left."""
