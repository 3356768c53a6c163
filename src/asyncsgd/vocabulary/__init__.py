"""The ground floor: the words every other layer speaks, importing nothing else of the package.

The flat parameter layout, the messages between learners and the server (and the server's record
of what it did with each), what an engine reports to its monitor, and what a setting is (the
declaration every part that takes a run setting makes).
"""
