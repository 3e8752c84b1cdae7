"""The cniqs tool, on top of the library: argument parsing, output, the state file between commands.

main.py is the entry point (`cniqs`) and its commands; arguments.py the options the commands share;
errorline.py a failure as the one line cniqs prints; session.py picks a provider and maps failures to messages.
"""
