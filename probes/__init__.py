"""The device-side probe (POSIX sh). Installed as the package kit.probes."""
