"""Training and evaluation of emotion classifiers on labelled face images."""
