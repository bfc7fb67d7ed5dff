"""The Qt desktop app: a thin layer over the Qt-free core (``livenessapp.engine``, ``verdict``, ``kiosk``,
``recording``). Entry point: :func:`livenessapp.gui.app.run_gui`."""
