"""Clips, pair selection, oracles, the preference store, the reward ensemble and the label schedule."""
