"""SB3 PPO on the learned reward: the wiring of envs, preferences and training, and the CLI."""
