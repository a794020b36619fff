"""The data plane: a prediction server with routing, micro-batching and a prediction log."""
