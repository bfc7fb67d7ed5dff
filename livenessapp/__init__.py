"""livenessapp: real-time face liveness detection with a multi-frame depth network."""

__version__ = "0.1.0"
