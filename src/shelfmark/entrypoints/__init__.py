"""Ways into the application: HTTP, CLI, workers. All go through the bootstrap."""
