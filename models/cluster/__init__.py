"""Many nodes as one: the command bus between them and the heartbeats that find a dead one."""
