"""Benchmarks runnable from the command line (``saliencyaug bench ...``)."""
