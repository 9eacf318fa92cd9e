"""Developer tools for the appeals platform; no service imports this package."""
