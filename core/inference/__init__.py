"""One inference pipeline (decode, resize, normalise, model, TTA, sigmoid) and what consumes it."""
