"""Physically grounded live / print / replay clip simulator (see :mod:`.scene` for the scene model)."""
