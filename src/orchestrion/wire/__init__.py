"""Representations: each resource rendered as the camelCase JSON a GET returns.

Used by the API's responses and by status-callback events, so that an
event's ``data`` is exactly what a GET of the resource would show.
"""
