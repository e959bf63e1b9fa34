"""A third-party diffapprox package: streaming least squares and one claim about SGD on it."""
