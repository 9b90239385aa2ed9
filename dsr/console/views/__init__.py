"""Console views, one module per area; routes are listed in `dsr.console.app`."""
