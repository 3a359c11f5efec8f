"""Replaces the contrib hook, whose hidden import `torchvision.image` no longer exists.

torchvision 0.29's `image_stable` library is collected by hook-torchvision.py instead.
"""
