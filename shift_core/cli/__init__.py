"""The ``shift`` command line (see :mod:`shift_core.cli.main`)."""
