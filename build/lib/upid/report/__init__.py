"""The HTML report: pure, like analysis. An analysis document and usage series in, one self-contained page out."""
