"""The command-line layer: Typer and Rich live here and nowhere else."""
