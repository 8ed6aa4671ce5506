"""Use cases: each takes settings or a store plus plain arguments, and returns a result to render.

The CLI calls exactly one of these per command; they never print.
"""
