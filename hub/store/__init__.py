"""The context store: typed models, engine set-up and small query helpers."""
