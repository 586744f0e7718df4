"""What ``devnode`` exits with."""

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
