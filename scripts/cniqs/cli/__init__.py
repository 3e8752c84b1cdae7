"""The cniqs tool, on top of the library: argument parsing, output, the state file between commands.

main.py is the entry point (`cniqs`); session.py picks a provider and maps failures to messages.
"""
