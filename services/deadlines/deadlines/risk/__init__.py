"""Breach risk (predicted): features, the model, its training and the scoring pass."""
