"""Responses: domain records rendered as the camelCase JSON the SDKs read."""
