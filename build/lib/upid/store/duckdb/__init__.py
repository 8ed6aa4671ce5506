"""The embedded DuckDB backend: a database file for metadata and fresh samples, plus zstd Parquet blocks."""
