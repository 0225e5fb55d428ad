"""Connector plugins, one small folder per provider (see ``hub/plugin.py``)."""
