"""Checks of the toolkit's own models and rules: the verdict rule's error rates, the finite-step
variance model, and the live parameter server's staleness against its queue law."""
