"""Running the domain in a process: the background-loop runner and the metrics."""
