"""Engines: the only place where scheduling, processes and transports live.

``sim`` (simulated time), ``local`` (learner processes on this machine) and ``ray`` (actors on a
Ray cluster); the assembly's registry (:mod:`asyncsgd.assembly.engines`) imports one when a run
names it.
"""
