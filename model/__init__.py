"""Comment moderation model: features, pipeline, decision policy and artifact loading.

Shared by training (which produces artifacts) and serving (which consumes them).
"""
