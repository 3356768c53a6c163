"""The ground floor: the words every other layer speaks, importing nothing else of the package.

The flat parameter layout, the messages between learners and the server (and the server's record
of what it did with each), and what an engine reports to its monitor.
"""
