"""A local, deterministic Qualtrics API v3 simulator for tests, demos and benchmarks."""

from .config import SimulatorConfig
from .simulator import ServerHandle, Simulator

__all__ = ["ServerHandle", "Simulator", "SimulatorConfig"]
