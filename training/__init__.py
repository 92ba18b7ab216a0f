"""Training: turns labelled comments into a model artifact, its card and a report."""
