"""Producers of SampleBatches from files (the canonical import format)."""
