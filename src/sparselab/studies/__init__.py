"""One module per notebook: `Config` (the notebook's parameters), `run(cfg)`, `plot_*`."""
