"""Pure analysis: arrays and dataclasses in, results out. No CLI, store, cluster or driver imports here."""
