"""The dev node and its local stand-ins for the production services."""
