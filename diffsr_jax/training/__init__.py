"""The host side of a run, around the compiled program (``diffsr_jax.program``): the run's plan (``plan``), the host
loop (``host_loop``: chunks, metrics, checkpoints, signals), checkpoints, devices and processes, memory, provenance,
and a finished run read back (``saved_run``, ``evaluation``)."""
