"""The README walk: its commands, the loopback world they run in, and what each must leave."""
