"""The training loop: public steps, recipes, losses, auto-tune, and the distributed context."""
