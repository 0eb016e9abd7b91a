"""sentiflow: fine-tune, measure and dissect transformer sentence classifiers."""

__version__ = "0.1.0"
