"""The ways a running node shows itself: plain lines, JSON lines, the rich console."""
