"""The agent panel: a page agents keep open (or embed) that receives pops live."""
