"""The cluster layer: talking to Kubernetes through the official client, and turning its objects into
upid's records. Heavy to import (the kubernetes package): only `storage collect` and `cluster` load it."""
