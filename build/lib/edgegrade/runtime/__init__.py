"""The lean runtime: capture, backends, dual-module pipeline, overlay, sinks. Never imports torch."""
