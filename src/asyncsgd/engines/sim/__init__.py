"""The ``sim`` engine: a deterministic discrete-event simulator of p learners (``engine.py``) and
the simulated-time models it draws from, built from a run's settings (``simulated_time.py``)."""
