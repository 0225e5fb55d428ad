"""Threadline's core: store, intake, pipeline, worker, scheduler, API and CLI."""

__version__ = "0.1.0"
