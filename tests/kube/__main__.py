"""Run the test API server on its own: `python -m kube PODS NODES` (from tests/). Prints its URL, then serves
until stdin closes; a line `advance` moves the clock one step. Used by bench/collect.py."""

from __future__ import annotations

import sys

from kube.model import STEP, Cluster
from kube.server import KubeServer

pods, nodes = int(sys.argv[1]), int(sys.argv[2])
cluster = Cluster(pods=pods, nodes=nodes)
with KubeServer(cluster) as server:
    print(server.url, flush=True)
    for line in sys.stdin:
        if line.strip() == "advance":
            with server.lock:
                cluster.advance(STEP)
        print("ok", flush=True)
