"""`upid serve`: a read-only HTTP server over a store (the JSON API, /metrics, the live report), with an
optional collector on a timer. A delivery layer beside the CLI: it calls the same workflows and returns the
same documents; Starlette and uvicorn are imported only here."""
