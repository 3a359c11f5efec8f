"""The Predict page: drop posters, read one bar per label, move thresholds, explain."""
