"""``python -m livenessapp`` — same as the ``livenessapp`` command."""

from livenessapp.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
