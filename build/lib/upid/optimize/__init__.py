"""Turning findings into changes: the plan and its safety rules (pure), and its Kubernetes form (patches)."""
