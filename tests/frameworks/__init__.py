"""Real agent frameworks, each in a virtual environment of its own, traced into Oracle Monitor."""
