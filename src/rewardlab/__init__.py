"""rewardlab: train, evaluate, audit, shape and serve reward models."""

__version__ = "0.1.0"
