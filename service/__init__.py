"""The edges: the moderation HTTP service, batch labelling and the `moderate` command line."""
