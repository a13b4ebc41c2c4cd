"""HSCN procurement planner."""
__version__ = "0.1.0"
