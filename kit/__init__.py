"""kit: a field diagnostic kit for socket memory on embedded Linux routers."""

__version__ = "0.1.0"
