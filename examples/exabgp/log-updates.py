#!/usr/bin/env python3
"""Appends every message ExaBGP hands to this process (JSON, one per line)
to $CUE_EXABGP_LOG (default /tmp/exabgp-received.json)."""
import os
import sys

# ExaBGP gives its processes a non-blocking pipe: read it blocking.
os.set_blocking(sys.stdin.fileno(), True)
path = os.environ.get("CUE_EXABGP_LOG", "/tmp/exabgp-received.json")
with open(path, "a", buffering=1) as out:
    for line in sys.stdin:
        out.write(line)
